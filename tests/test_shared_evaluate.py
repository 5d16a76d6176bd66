"""Evaluate measures and writes its entries on every core (helper processes): the folder is the one a single
process writes, file for file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clir_calib import shared_work
from clir_calib.config import load_config
from clir_calib.evaluation.evaluate import run_evaluation

#: the files that record how a run went (seconds, what came from the encoding cache), and those records
RUN_RECORDS = {"summary.json": "elapsed_s", "metrics.json": "timing_s", "mteb_result.json": "evaluation_time"}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _measured(name: str, data: bytes) -> object:
    """A file's content less its run record (``SHA256SUMS`` less the lines of files that hold one)."""
    base = Path(name).name
    if base in RUN_RECORDS:
        found = json.loads(data)
        assert RUN_RECORDS[base] in found, name
        return {k: v for k, v in found.items() if k != RUN_RECORDS[base]}
    if base == "SHA256SUMS":
        return [line for line in data.decode().splitlines() if Path(line.split()[-1]).name not in RUN_RECORDS]
    return data


def test_evaluate_on_helpers_writes_the_single_process_folder(prepared_dir: Path, tiny_model_dir: Path,
                                                                tmp_path: Path) -> None:
    cfg = load_config(None, [f"data.prepared={prepared_dir}", f"models.teacher.name={tiny_model_dir}", f"models.student.name={tiny_model_dir}",
                             f"evaluate.index_dir={tmp_path / 'index'}", "evaluate.top_k=10", "evaluate.bootstrap=50",
                             "evaluate.diagrams=equal_width", "device=cpu"])
    folders = {}
    for cores in (1, 2):
        shared_work.set_core_budget(cores)
        try:
            run_evaluation(cfg, tmp_path / f"cores-{cores}")
        finally:
            shared_work.set_core_budget(None)
        folders[cores] = _files(tmp_path / f"cores-{cores}")
    alone, shared = folders[1], folders[2]
    assert sorted(alone) == sorted(shared) and any(name.endswith(".png") for name in alone)
    for name in alone:
        assert _measured(name, shared[name]) == _measured(name, alone[name]), name


def test_paired_tests_on_helpers_are_the_single_process_tables(prepared_dir: Path, tiny_model_dir: Path,
                                                                tmp_path: Path) -> None:
    """compare_runs' permutation tests and paired bootstraps (the report's per-run comparison) run on every core:
    the same tables, cell for cell, as in one process."""
    from clir_calib.evaluation.compare import compare_runs

    folders = []
    for name, temperature in (("cold", "0.05"), ("warm", "0.2")):
        cfg = load_config(None, [f"data.prepared={prepared_dir}", f"models.teacher.name={tiny_model_dir}",
                                 f"models.student.name={tiny_model_dir}", f"evaluate.index_dir={tmp_path / 'index'}",
                                 "evaluate.top_k=10", "evaluate.bootstrap=30", "evaluate.diagrams=none",
                                 f"evaluate.temperature={temperature}", f"evaluate.system={name}", "device=cpu"])
        run_evaluation(cfg, tmp_path / name)
        folders.append(tmp_path / name)
    tables = []
    for cores in (1, 2):
        shared_work.set_core_budget(cores)
        try:
            tables.append(compare_runs(folders, permutations=40, resamples=30))
        finally:
            shared_work.set_core_budget(None)
    alone, shared = tables
    assert [repr(t) for t in shared] == [repr(t) for t in alone]
    assert any(c.p_value is not None for t in alone for c in t.cells.values())


@pytest.fixture(autouse=True)
def _fresh_helpers() -> object:
    yield
    shared_work.stop_helpers()
