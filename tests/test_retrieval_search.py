"""Top-k search: chunked exact search equals a full sort; FAISS agrees; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clir_calib.errors import ConfigError, DataError, NumericalError
from clir_calib.retrieval.search import SearchResult, exact_top_k, faiss_top_k, top_k, trec_order


def _data(seed: int = 0, n_queries: int = 13, n_docs: int = 37, dim: int = 6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_queries, dim)).astype(np.float32), rng.normal(size=(n_docs, dim)).astype(np.float32)


@pytest.mark.parametrize(("query_chunk", "doc_chunk"), [(1024, 65536), (4, 5), (1, 1), (13, 36)])
def test_chunked_exact_search_equals_full_sort(query_chunk: int, doc_chunk: int) -> None:
    queries, docs = _data()
    full = queries @ docs.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :7]
    result = exact_top_k(queries, docs, k=7, query_chunk=query_chunk, doc_chunk=doc_chunk)
    np.testing.assert_array_equal(result.indices, expected)
    np.testing.assert_allclose(result.scores, np.take_along_axis(full, expected, axis=1), rtol=1e-5, atol=1e-6)
    assert result.indices.shape == (13, 7) and result.scores.dtype == np.float32


def test_k_larger_than_corpus_returns_everything() -> None:
    queries, docs = _data(n_docs=4)
    result = exact_top_k(queries, docs, k=10, doc_chunk=3)
    assert result.indices.shape == (13, 4)
    assert all(sorted(row) == [0, 1, 2, 3] for row in result.indices.tolist())


def test_faiss_backend_agrees_with_exact() -> None:
    queries, docs = _data(seed=1)
    exact = exact_top_k(queries, docs, k=5)
    faiss_result = top_k(queries, docs, k=5, backend="faiss")
    np.testing.assert_array_equal(faiss_result.indices, exact.indices)
    np.testing.assert_allclose(faiss_result.scores, exact.scores, rtol=1e-5, atol=1e-6)
    assert faiss_top_k(queries, docs, k=100).indices.shape == (13, 37)


def test_trec_order_breaks_ties_by_descending_id() -> None:
    queries = np.array([[1.0, 0.0]], dtype=np.float32)
    docs = np.array([[0.5, 0.0], [0.9, 0.0], [0.5, 1.0], [0.5, 2.0]], dtype=np.float32)
    ids, scores = trec_order(exact_top_k(queries, docs, k=4), ["a", "b", "c", "d"])
    assert ids == [["b", "d", "c", "a"]]
    assert scores.tolist() == [[pytest.approx(0.9), 0.5, 0.5, 0.5]]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_trec_order_is_the_sort_by_score_then_id_descending(data: st.DataObject) -> None:
    """All queries sorted at once equal Python's sort of each row by (score, id), descending (ids with repeats,
    case, digits and non-ASCII; scores with ties and a signed zero)."""
    n_docs = data.draw(st.integers(1, 30))
    ids = data.draw(st.lists(st.sampled_from(["a", "b", "ab", "B", "é", "a1", "10", "9"]), min_size=n_docs,
                             max_size=n_docs))
    k = data.draw(st.integers(1, n_docs))
    rows = data.draw(st.lists(st.permutations(range(n_docs)), min_size=1, max_size=5))
    indices = np.array([row[:k] for row in rows], dtype=np.int64)
    scores = np.array(data.draw(st.lists(st.lists(st.sampled_from([0.0, -0.0, 0.25, 0.5, 1.0]), min_size=k,
                                                  max_size=k), min_size=len(rows), max_size=len(rows))),
                      dtype=np.float32)
    ranked, ranked_scores = trec_order(SearchResult(indices, scores), ids)
    for row in range(len(rows)):
        expected = sorted(((float(s), ids[int(i)], -j) for j, (i, s) in enumerate(zip(indices[row], scores[row],
                                                                                        strict=True))),
                          key=lambda item: (item[0], item[1]), reverse=True)
        assert ranked[row] == [doc for _, doc, _ in expected]
        assert ranked_scores[row].tolist() == [s for s, _, _ in expected]


def test_bad_inputs_are_one_line_errors() -> None:
    queries, docs = _data()
    with pytest.raises(DataError, match="width"):
        exact_top_k(queries, docs[:, :3], k=3)
    bad = docs.copy()
    bad[2, 1] = np.nan
    with pytest.raises(NumericalError, match="NaN"):
        exact_top_k(queries, bad, k=3)
    with pytest.raises(ConfigError, match="backend"):
        top_k(queries, docs, k=3, backend="annoy")
    with pytest.raises(ConfigError):
        exact_top_k(queries, docs, k=0)
    with pytest.raises(DataError, match="matrix"):
        exact_top_k(queries[0], docs, k=3)
