"""``scored.npz``: ids stored once with the rank lists as indices, read back exactly; files written before that
layout (one id per rank) still load; a damaged member is one error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from clir_calib.errors import DataError
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.stored import write_digest


def _run() -> ScoredRun:
    rng = np.random.default_rng(3)
    ids = ["d-é", "d-1", "d-10", "x y", "d-2"]
    return ScoredRun(qids=["q1", "q2", "q3"], doc_ids=[list(rng.permutation(ids)[:4]) for _ in range(3)],
                     scores=np.sort(rng.random((3, 4)).astype(np.float32), axis=1)[:, ::-1].copy(),
                     labels=rng.integers(0, 2, (3, 4)).astype(np.int8), n_relevant=np.array([1, 2, 0], dtype=np.int32))


def _same(a: ScoredRun, b: ScoredRun) -> bool:
    return a.qids == b.qids and a.doc_ids == b.doc_ids and all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("scores", "labels", "n_relevant"))


def test_round_trip_with_an_id_table(tmp_path: Path) -> None:
    run = _run()
    run.save(tmp_path / "scored.npz")
    with zipfile.ZipFile(tmp_path / "scored.npz") as archive:
        assert {"doc_table.npy", "doc_index.npy"} <= set(archive.namelist())
    with np.load(tmp_path / "scored.npz") as data:
        assert sorted(data["doc_table"].tolist()) == sorted({d for row in run.doc_ids for d in row})
    assert _same(ScoredRun.load(tmp_path / "scored.npz"), run)


def test_a_file_with_one_id_per_rank_still_loads(tmp_path: Path) -> None:
    run = _run()
    path = tmp_path / "scored.npz"
    np.savez_compressed(path, qids=np.asarray(run.qids), doc_ids=np.asarray(run.doc_ids, dtype=str),
                        scores=run.scores, labels=run.labels, n_relevant=run.n_relevant)
    write_digest(path)
    assert _same(ScoredRun.load(path), run)


def test_an_index_beyond_the_table_is_one_error(tmp_path: Path) -> None:
    run = _run()
    path = tmp_path / "scored.npz"
    run.save(path)
    with np.load(path) as data:
        members = {name: data[name] for name in data.files}
    members["doc_index"] = members["doc_index"] + 100
    np.savez_compressed(path, **members)
    write_digest(path)
    with pytest.raises(DataError, match="malformed"):
        ScoredRun.load(path)
