"""Encoding speed: ``Encoder.encode`` against sentence-transformers' ``SentenceTransformer.encode``.

Both encode the same Multi30k captions (first N/2 English + N/2 German training captions) with
the same model folder, prefix, max length, batch size, mean pooling and L2 normalisation, one
timed run each after a short warm-up, on CPU. Prints sentences/s for both, the ratio
(ours / sentence-transformers; target >= 1.0) and the cosine agreement of the two outputs.

Run: ``python bench/encode.py [--model intfloat/multilingual-e5-small] [--n 2000] [--batch-size 64]``
(sentence-transformers comes with the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import gzip
import time
from itertools import islice
from pathlib import Path

import torch

from clir_calib.config import default_multi30k_source
from clir_calib.models.encoder import Encoder


def load_captions(root: Path, n: int) -> list[str]:
    """The first ``n/2`` English and ``n/2`` German task-1 training captions."""
    texts: list[str] = []
    for lang in ("en", "de"):
        with gzip.open(root / "task1" / "raw" / f"train.{lang}.gz", "rt", encoding="utf-8") as handle:
            texts += [line.strip() for line in islice(handle, n // 2)]
    return texts


def sentence_transformer_for(encoder: Encoder) -> object:
    """A SentenceTransformer over the same HF folder: Transformer -> mean Pooling -> Normalize."""
    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer  # type: ignore[no-redef]
    from sentence_transformers import SentenceTransformer

    from clir_calib.models.loading import no_pooler_kwargs

    transformer = Transformer(str(encoder.folder), max_seq_length=encoder.max_length,
                              model_kwargs=no_pooler_kwargs(encoder.folder))
    pooling = Pooling(encoder.hidden_size, pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="intfloat/multilingual-e5-small")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--multi30k", type=Path, default=None)
    parser.add_argument("--st-first", action="store_true", help="Time sentence-transformers before ours.")
    args = parser.parse_args()
    root = args.multi30k or default_multi30k_source()
    if root is None:
        raise SystemExit("Multi30k not found: pass --multi30k or set CLIR_CALIB_MULTI30K")
    texts = load_captions(root, args.n)
    encoder = Encoder.from_pretrained(args.model, max_length=args.max_length, device="cpu")
    prefixed = [encoder.prefix("passage") + text for text in texts]
    st_model = sentence_transformer_for(encoder)
    print(f"model {args.model} ({encoder.folder}); {len(texts)} captions; batch {args.batch_size}; "
          f"max_length {encoder.max_length}; torch threads {torch.get_num_threads()}")

    encoder.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    st_model.encode(prefixed[:64], batch_size=args.batch_size)  # type: ignore[attr-defined]

    def run_ours() -> tuple[torch.Tensor, float]:
        started = time.perf_counter()
        vectors = encoder.encode(texts, role="passage", batch_size=args.batch_size)
        return vectors, time.perf_counter() - started

    def run_theirs() -> tuple[torch.Tensor, float]:
        started = time.perf_counter()
        vectors = st_model.encode(prefixed, batch_size=args.batch_size, convert_to_tensor=True)  # type: ignore[attr-defined]
        return vectors, time.perf_counter() - started

    if args.st_first:
        theirs, theirs_s = run_theirs()
        ours, ours_s = run_ours()
    else:
        ours, ours_s = run_ours()
        theirs, theirs_s = run_theirs()

    agreement = (ours * theirs.cpu().float()).sum(dim=1)
    ours_rate, theirs_rate = len(texts) / ours_s, len(texts) / theirs_s
    print(f"clir-calib Encoder.encode:           {ours_rate:8.1f} sentences/s ({ours_s:.1f} s)")
    print(f"SentenceTransformer.encode:          {theirs_rate:8.1f} sentences/s ({theirs_s:.1f} s)")
    print(f"ratio (ours / sentence-transformers): {ours_rate / theirs_rate:.2f}x")
    print(f"cosine agreement of the outputs: min {agreement.min():.6f}, mean {agreement.mean():.6f}")


if __name__ == "__main__":
    main()
