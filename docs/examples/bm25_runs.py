"""BM25 runs over prepared Multi30k, as TREC files in the layout ``clir-calib evaluate --runs`` imports.

English queries against German, French or Czech captions share few words, so documents and queries are
tokenised into character 4-grams (a standard lexical CLIR baseline: McNamee and Mayfield, "Character N-Gram
Tokenization for European Language Text Retrieval", Information Retrieval 2004), then ranked by ``bm25s``.

    python docs/examples/bm25_runs.py --prepared runs/data/multi30k --out runs/bm25-runs
    clir-calib evaluate --runs runs/bm25-runs --name bm25 --out runs/bm25-eval
    clir-calib calibrate runs/bm25-eval --adapt
    clir-calib report runs/bm25-eval
"""

from __future__ import annotations

import argparse
from pathlib import Path


def char_grams(text: str, n: int = 4) -> list[str]:
    padded = f" {' '.join(text.lower().split())} "
    return [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]


def write_bm25_runs(prepared: Path, out: Path, langs: list[str], splits: list[str], task: str = "translation",
                    k: int = 100, max_images: int | None = None) -> list[Path]:
    """One ``TASK/LANG/SPLIT/run.trec`` with its ``qrels.txt`` per language and split; returns the run files."""
    import bm25s

    from clir_calib.data.store import load_task

    written = []
    for lang in langs:
        for split in splits:
            loaded = load_task(prepared, task, lang, split, max_images=max_images)
            doc_ids = list(loaded.corpus)
            qids = [q for q in loaded.queries if q in loaded.qrels]
            retriever = bm25s.BM25()
            retriever.index([char_grams(loaded.corpus[d]) for d in doc_ids], show_progress=False)
            depth = min(k, len(doc_ids))
            found, scores = retriever.retrieve([char_grams(loaded.queries[q]) for q in qids], k=depth,
                                               show_progress=False)
            folder = out / task / lang / split
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "run.trec", "w", encoding="utf-8") as run:
                for qid, rows, values in zip(qids, found, scores, strict=True):
                    for rank, (row, score) in enumerate(zip(rows, values, strict=True), start=1):
                        run.write(f"{qid} Q0 {doc_ids[int(row)]} {rank} {float(score):.9g} bm25-char4\n")
            with open(folder / "qrels.txt", "w", encoding="utf-8") as qrels:
                for qid in qids:
                    for doc, grade in loaded.qrels[qid].items():
                        qrels.write(f"{qid} 0 {doc} {int(grade)}\n")
            written.append(folder / "run.trec")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", type=Path, required=True, help="the folder `clir-calib prepare` wrote")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--langs", default="de,fr,cs")
    parser.add_argument("--splits", default="val,test_2016_flickr")
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    for path in write_bm25_runs(args.prepared, args.out, args.langs.split(","), args.splits.split(","), k=args.k):
        print(path)


if __name__ == "__main__":
    main()
