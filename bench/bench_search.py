"""Top-k search speed and memory: chunked exact search and FAISS against one full matrix product.

Run: ``python bench/bench_search.py [--docs 200000] [--queries 1000] [--dim 384] [--k 100]``.
Prints seconds per backend and the ratio to the full product measured in the same run, plus the
largest score block each one materialises (the memory bound of the chunked search).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from clir_calib.retrieval.search import exact_top_k, faiss_top_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--doc-chunk", type=int, default=65536)
    parser.add_argument("--query-chunk", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(args.docs, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)

    started = time.perf_counter()
    full_scores = torch.from_numpy(queries) @ torch.from_numpy(docs).T
    reference = torch.topk(full_scores, args.k, dim=1).indices.numpy()
    full_s = time.perf_counter() - started
    full_mb = full_scores.numel() * 4 / 2**20
    del full_scores

    started = time.perf_counter()
    exact = exact_top_k(queries, docs, args.k, query_chunk=args.query_chunk, doc_chunk=args.doc_chunk)
    exact_s = time.perf_counter() - started
    started = time.perf_counter()
    faiss_result = faiss_top_k(queries, docs, args.k)
    faiss_s = time.perf_counter() - started

    chunk_mb = min(args.query_chunk, args.queries) * min(args.doc_chunk, args.docs) * 4 / 2**20
    agree_exact = float(np.mean(np.sort(exact.indices, 1) == np.sort(reference, 1)))
    agree_faiss = float(np.mean(np.sort(faiss_result.indices, 1) == np.sort(reference, 1)))
    print(f"{args.queries} queries x {args.docs} docs, dim {args.dim}, k {args.k}, torch threads {torch.get_num_threads()}")
    print(f"full product : {full_s:7.2f} s  (1.00x)  score matrix {full_mb:8.1f} MiB")
    print(f"chunked exact: {exact_s:7.2f} s  ({exact_s / full_s:.2f}x)  largest block {chunk_mb:8.1f} MiB  same top-k {agree_exact:.4f}")
    print(f"faiss flat   : {faiss_s:7.2f} s  ({faiss_s / full_s:.2f}x)  same top-k {agree_faiss:.4f}")


if __name__ == "__main__":
    main()
