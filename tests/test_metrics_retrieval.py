"""Retrieval metrics: hand-computed values and agreement with ir_measures on random runs."""

from __future__ import annotations

import math
from pathlib import Path

import ir_measures
import numpy as np
import pytest

from clir_calib.errors import DataError
from clir_calib.metrics.retrieval import RETRIEVAL_METRICS, mean_metrics, per_query_metrics
from clir_calib.retrieval.runs import scored_run, write_trec_run
from clir_calib.retrieval.search import SearchResult, exact_top_k

LABELS = np.array([[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
N_RELEVANT = np.array([3, 1, 2])


def test_hand_computed_values() -> None:
    got = per_query_metrics(LABELS, N_RELEVANT)
    d3, d5 = 1 / math.log2(3), 1 / math.log2(5)
    expected = {
        "AP": [(1 / 2 + 2 / 4) / 3, 1.0, 0.0],
        "RR@10": [0.5, 1.0, 0.0],
        "nDCG@10": [(d3 + d5) / (1 + d3 + 0.5), 1.0, 0.0],
        "R@1": [0.0, 1.0, 0.0],
        "R@5": [2 / 3, 1.0, 0.0],
        "R@10": [2 / 3, 1.0, 0.0],
    }
    assert list(got) == list(RETRIEVAL_METRICS)
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-12, err_msg=name)
    means = mean_metrics(got)
    assert means["AP"] == pytest.approx((1 / 3 + 1) / 3)


def test_cutoffs_beyond_depth_and_rr_after_ten() -> None:
    labels = np.zeros((1, 12), dtype=int)
    labels[0, 11] = 1  # first relevant at rank 12: outside RR@10, inside AP
    got = per_query_metrics(labels, np.array([1]))
    assert got["RR@10"][0] == 0.0 and got["R@10"][0] == 0.0
    assert got["AP"][0] == pytest.approx(1 / 12)
    shallow = per_query_metrics(np.array([[1, 1]]), np.array([4]))  # depth 2 < cutoff 10
    assert shallow["R@5"][0] == pytest.approx(0.5)
    assert shallow["nDCG@10"][0] == pytest.approx((1 + 1 / math.log2(3)) / sum(1 / math.log2(i + 1) for i in range(1, 5)))


def test_labels_inconsistent_with_qrels_are_an_error() -> None:
    with pytest.raises(DataError, match="qrels"):
        per_query_metrics(np.array([[1, 1, 0]]), np.array([1]))
    with pytest.raises(DataError):
        per_query_metrics(np.array([1, 0]), np.array([1]))


def _random_problem(seed: int, n_queries: int = 40, n_docs: int = 60, ties: bool = False):
    rng = np.random.default_rng(seed)
    qids = [f"q{i}" for i in range(n_queries)]
    doc_ids = [f"d{i:03d}" for i in range(n_docs)]
    queries = rng.normal(size=(n_queries, 8)).astype(np.float32)
    docs = rng.normal(size=(n_docs, 8)).astype(np.float32)
    if ties:
        docs[1::2] = docs[0::2]  # every odd document duplicates its neighbour: exact score ties
    qrels = {}
    for qid in qids:
        relevant = rng.choice(n_docs, size=int(rng.integers(1, 6)), replace=False)
        qrels[qid] = {doc_ids[i]: 1 for i in relevant}
        qrels[qid].setdefault(doc_ids[int(rng.integers(n_docs))], 0)  # a judged non-relevant document
    return qids, doc_ids, queries, docs, qrels


@pytest.mark.parametrize("ties", [False, True])
def test_equal_to_ir_measures_on_random_runs(tmp_path: Path, ties: bool) -> None:
    qids, doc_ids, queries, docs, qrels = _random_problem(7 if ties else 3, ties=ties)
    run = scored_run(qids, doc_ids, exact_top_k(queries, docs, k=25), qrels)
    ours = mean_metrics(per_query_metrics(run.labels, run.n_relevant))
    path = tmp_path / "run.trec"
    write_trec_run(path, run, "test")
    qrels_list = [ir_measures.Qrel(q, d, r) for q, docs_ in qrels.items() for d, r in docs_.items()]
    measures = [ir_measures.parse_measure(name) for name in RETRIEVAL_METRICS]
    if ties:
        # the msmarco provider behind RR@10 breaks ties by ascending id, trec_eval by descending id;
        # trec_eval's own RR (no cutoff) matches ours where the first relevant is in the top 10
        measures = [m for m in measures if str(m) != "RR@10"]
    theirs = ir_measures.calc_aggregate(measures, qrels_list, ir_measures.read_trec_run(str(path)))
    for measure in measures:
        assert ours[str(measure)] == pytest.approx(theirs[measure], abs=1e-9), str(measure)
    if ties:
        per_query_ours = per_query_metrics(run.labels, run.n_relevant)["RR@10"]
        rr = {m.query_id: m.value for m in ir_measures.pytrec_eval.iter_calc(
            [ir_measures.RR], qrels_list, ir_measures.read_trec_run(str(path)))}
        compared = 0
        for qid, value in zip(qids, per_query_ours, strict=True):
            if value > 0:
                assert value == pytest.approx(rr[qid]), qid
                compared += 1
        assert compared > 10
        assert any(len(set(row)) < len(row) for row in run.scores.tolist())  # the ties really exist


def test_top_k_order_and_tie_breaking() -> None:
    result = SearchResult(indices=np.array([[0, 1, 2]]), scores=np.array([[0.5, 0.9, 0.5]], dtype=np.float32))
    run = scored_run(["q"], ["a", "b", "c"], result, {"q": {"a": 1}})
    assert run.doc_ids == [["b", "c", "a"]]  # ties by id descending, as trec_eval
    assert run.labels.tolist() == [[0, 0, 1]] and run.n_relevant.tolist() == [1]


def test_trec_run_text_is_one_f_string_per_line_byte_for_byte() -> None:
    """The run is formatted a query at a time through one template; every line must still be
    ``f"{qid} Q0 {doc} {rank} {score:.9g} {tag}"``, whatever the ids (``%`` included) and the scores' magnitudes."""
    from clir_calib.retrieval.runs import format_trec_run
    from clir_calib.retrieval.scored import ScoredRun

    rng = np.random.default_rng(11)
    q, k = 6, 9
    scores = (rng.normal(size=(q, k)) * 10.0 ** rng.integers(-12, 12, size=(q, k))).astype(np.float32)
    scores[0, :3] = [0.0, -0.0, np.float32(1) / 3]
    scores[1, :2] = [np.finfo(np.float32).max, np.finfo(np.float32).tiny]
    qids = ["q0", "100%", "q 2", "%s", "q%d", "ü"]
    doc_ids = [[f"d{i}-{j}%" if j % 2 else f"%(x)s{i}{j}" for j in range(k)] for i in range(q)]
    run = ScoredRun(qids, doc_ids, scores, np.zeros((q, k), dtype=np.int8), np.zeros(q, dtype=np.int32))
    tag = "my 100% run"
    expected = "".join(f"{qid} Q0 {doc} {rank} {float(score):.9g} my_100%_run\n"
                       for qid, docs, row in zip(qids, doc_ids, scores, strict=True)
                       for rank, (doc, score) in enumerate(zip(docs, row, strict=True), start=1))
    assert format_trec_run(run, tag) == expected
