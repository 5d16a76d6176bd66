"""Any retriever's TREC run, with its qrels, as an evaluate folder: then ``calibrate`` (calibrators, transfer,
adapters, bounds) and ``report`` work on it unchanged.

Runs and qrels are read by ``ir_measures`` (its TREC readers); this module only checks what they yield, naming
the file and line of the first problem: a (query, document) pair given twice, a score that is not a finite
number, a query the qrels do not judge, a list shorter than a listwise view needs. Scores keep their native
scale. A raw probability view exists only where its mapping is stated (``temperature`` for the listwise softmax,
``sigmoid`` for the pointwise one); otherwise ``summary.json`` says why there is none, and only calibrated views
are reported. Lists of different lengths are cut to the shortest, which ``summary.json`` notes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.claims import claims_output
from clir_calib.config import ExperimentConfig
from clir_calib.errors import ConfigError, DataError
from clir_calib.evaluation.results import EntryResult
from clir_calib.retrieval.scored import ScoredRun

RUN_FILE, QRELS_FILE = "run.trec", "qrels.txt"  # the names evaluate writes, so its own folders can be re-read
#: a listwise distribution needs two candidates (one candidate's softmax is always 1)
MIN_CANDIDATES = 2
NO_RAW_VIEW = ("the run's scores have no stated mapping to probabilities (give --temperature for the listwise "
               "softmax, --sigmoid SCALE,BIAS for the pointwise view); only calibrated views are reported")


@dataclass(frozen=True)
class RunFile:
    """One system's run for one (task, language, split), with the judgements it is scored against."""

    task: str
    lang: str
    split: str
    run: Path
    qrels: Path


def runs_in_folder(folder: Path) -> list[RunFile]:
    """Every ``TASK/LANG/SPLIT/run.trec`` with its ``qrels.txt`` under ``folder`` (evaluate's own layout)."""
    found = []
    for run in sorted(Path(folder).glob(f"*/*/*/{RUN_FILE}")):
        task, lang, split = run.parent.relative_to(folder).parts
        qrels = run.parent / QRELS_FILE
        if not qrels.is_file():
            raise DataError(f"{run} has no {QRELS_FILE} next to it; put the run's qrels there")
        found.append(RunFile(task, lang, split, run, qrels))
    if not found:
        raise DataError(f"{folder} holds no TASK/LANG/SPLIT/{RUN_FILE}; lay the runs out as evaluate writes them, e.g. "
                        f"translation/de/val/{RUN_FILE} with {QRELS_FILE} beside it")
    return found


def _lines(path: Path) -> list[int]:
    """The 1-based numbers of the non-blank lines: the n-th record an ``ir_measures`` reader yields is on the n-th."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [number for number, line in enumerate(handle, start=1) if line.strip()]


def _records(path: Path, reader: Any) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` pairs; a line the reader cannot read is one error naming it."""
    if not path.is_file():
        raise DataError(f"{path} does not exist; give a TREC file")
    lines = _lines(path)
    yielded = 0
    try:
        for record in reader(str(path)):
            yield lines[yielded], record
            yielded += 1
    except (ValueError, IndexError):
        where = lines[yielded] if yielded < len(lines) else (lines[-1] if lines else 1)
        raise DataError(f"{path}:{where}: not a TREC line (run: qid Q0 docid rank score tag; qrels: qid 0 docid "
                        "grade); fix or remove it") from None


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    import ir_measures

    qrels: dict[str, dict[str, int]] = {}
    for line, qrel in _records(path, ir_measures.read_trec_qrels):
        judged = qrels.setdefault(qrel.query_id, {})
        if qrel.doc_id in judged:
            raise DataError(f"{path}:{line}: query {qrel.query_id} judges document {qrel.doc_id} twice; keep one line")
        judged[qrel.doc_id] = int(qrel.relevance)
    return qrels


def read_run(item: RunFile) -> tuple[ScoredRun, dict[str, dict[str, int]], list[str]]:
    """The run as a :class:`ScoredRun` in trec_eval order (score, then document id, descending), its queries'
    qrels, and notes."""
    import ir_measures

    qrels = read_qrels(item.qrels)
    lists: dict[str, dict[str, float]] = {}
    first_line: dict[str, int] = {}
    for line, doc in _records(item.run, ir_measures.read_trec_run):
        if not np.isfinite(doc.score):
            raise DataError(f"{item.run}:{line}: score {doc.score} is not a finite number; fix the run")
        if doc.query_id not in qrels:
            raise DataError(f"{item.run}:{line}: query {doc.query_id} has no judgements in {item.qrels}; add them or "
                            "drop the query from the run")
        ranked = lists.setdefault(doc.query_id, {})
        first_line.setdefault(doc.query_id, line)
        if doc.doc_id in ranked:
            raise DataError(f"{item.run}:{line}: query {doc.query_id} lists document {doc.doc_id} twice; keep one line")
        ranked[doc.doc_id] = float(doc.score)
    if not lists:
        raise DataError(f"{item.run} holds no run lines; give a TREC run (qid Q0 docid rank score tag)")
    shortest = min(lists, key=lambda q: len(lists[q]))
    depth = len(lists[shortest])
    if depth < MIN_CANDIDATES:
        raise DataError(f"{item.run}:{first_line[shortest]}: query {shortest} has {depth} candidate; calibrating its "
                        f"scores needs at least {MIN_CANDIDATES} per query (retrieve more, or drop the query)")
    notes = []
    if any(len(ranked) != depth for ranked in lists.values()):
        notes.append(f"{item.task}/{item.lang}/{item.split}: lists of {depth} to {max(map(len, lists.values()))} "
                     f"candidates cut to the shortest ({depth}, query {shortest}) so that every query has the same depth")
    qids = list(lists)
    doc_ids, scores = [], []
    for qid in qids:
        ordered = sorted(lists[qid].items(), key=lambda pair: (pair[1], pair[0]), reverse=True)[:depth]
        doc_ids.append([doc for doc, _ in ordered])
        scores.append([score for _, score in ordered])
    judged = {qid: qrels[qid] for qid in qids}
    labels = np.array([[1 if judged[q].get(d, 0) > 0 else 0 for d in row] for q, row in zip(qids, doc_ids,
                                                                                               strict=True)])
    n_relevant = np.array([sum(1 for grade in judged[q].values() if grade > 0) for q in qids], dtype=np.int32)
    run = ScoredRun(qids, doc_ids, np.asarray(scores, dtype=np.float32), labels.astype(np.int8), n_relevant)
    return run, judged, notes


def raw_settings(cfg: ExperimentConfig, temperature: float | None,
                 sigmoid: tuple[float, float] | None) -> dict[str, Any]:
    """``summary.json``'s ``raw_views``: the stated mappings only, and why a view has none."""
    ev = cfg.evaluate
    settings: dict[str, Any] = {
        "temperature": temperature, "temperature_source": "stated" if temperature is not None else None,
        "sigmoid_scale": sigmoid[0] if sigmoid else None, "sigmoid_bias": sigmoid[1] if sigmoid else None,
        "pointwise_depth": ev.pointwise_depth, "bins": ev.bins,
    }
    if temperature is None or sigmoid is None:
        settings["unstated"] = NO_RAW_VIEW
    return settings


@claims_output("output", inputs=lambda arguments: [str(f.run) for f in arguments["files"]] +
               [str(f.qrels) for f in arguments["files"]])
def import_runs(
    cfg: ExperimentConfig, files: list[RunFile], output: str | Path, name: str, temperature: float | None = None,
    sigmoid: tuple[float, float] | None = None, overwrite: bool = False,
) -> dict[str, Any]:
    """Measure each run (retrieval, the stated raw views, diagnostics) and write an evaluate folder ``output``."""
    from clir_calib.evaluation.diagnostics import score_diagnostics
    from clir_calib.evaluation.evaluate import write_evaluation
    from clir_calib.evaluation.measures import measure

    if not files:
        raise ConfigError("no runs to import; give --run FILE --qrels FILE (with --tasks, --langs, --splits) or --runs")
    if temperature is not None and not temperature > 0:
        raise ConfigError(f"--temperature must be a positive number, got {temperature}")
    seen = [(f.task, f.lang, f.split) for f in files]
    if len(set(seen)) != len(seen):
        raise ConfigError("two runs for the same task, language and split; give one run per entry")
    started = time.perf_counter()
    raw = tuple(view for view, stated in (("listwise", temperature is not None), ("pointwise", sigmoid is not None))
                if stated)
    ev = cfg.evaluate
    if sigmoid is not None:
        ev.sigmoid_scale, ev.sigmoid_bias = sigmoid
    ev.system, ev.temperature = name, temperature  # the saved config says what this folder holds
    for field, position in (("tasks", 0), ("langs", 1), ("splits", 2)):
        setattr(ev, field, list(dict.fromkeys(entry[position] for entry in seen)))
    results, notes = [], []
    for item in files:
        run, judged, found = read_run(item)
        notes += found
        per_query, retrieval, views = measure(run, ev, cfg.seed, None, temperature, raw=raw)
        results.append(EntryResult(item.task, item.lang, item.split, run, len({d for row in run.doc_ids for d in row}),
                                   0, per_query, retrieval, views, {}, qrels=judged,
                                   diagnostics=score_diagnostics(run.scores, run.labels, temperature)))
    description = {"name": name, "queries": {"external": True}, "documents": {"runs": [str(f.run) for f in files]},
                   "temperature": {"value": temperature, "source": "stated" if temperature else "none stated"}}
    return write_evaluation(Path(output), results, cfg, description, raw_settings(cfg, temperature, sigmoid), [],
                            started, overwrite, notes)
