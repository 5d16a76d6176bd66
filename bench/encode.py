"""Encoding speed: ``Encoder.encode`` against sentence-transformers and against the CPU's matmul roofline.

Both encoders encode the same Multi30k captions (first N/2 English + N/2 German training captions) with
the same model folder, prefix, max length, batch size, mean pooling and L2 normalisation, after a short
warm-up, on CPU, ``--repeats`` times interleaved (ours, theirs, ours, ...). Printed: sentences/s of each
(median and range over repeats), the ratio ours / sentence-transformers (median and range of the per-repeat
ratios; target >= 1.0), the cosine agreement of the two outputs, and the **roofline ratio**: the FLOP/s
our encoder achieves (from the model's shape and the tokens it ran, padding included, counted as
``2 * multiply-adds`` of every linear layer and the attention products) over the FLOP/s of a float32
matrix multiply of the encoder's own feed-forward shape ``[tokens, hidden] x [hidden, intermediate]``,
measured in the same run on the same threads. Quantisation is not a lever here: it changes the numbers.

Run: ``python bench/encode.py [--model intfloat/multilingual-e5-small] [--n 2000] [--batch-size 64]
[--repeats 3] [--json]`` (sentence-transformers comes with the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
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
    parser.add_argument("--st-first", action="store_true", help="Time sentence-transformers first in each pair.")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved repeats of both sides.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object only.")
    args = parser.parse_args()
    root = args.multi30k or default_multi30k_source()
    if root is None:
        raise SystemExit("Multi30k not found: pass --multi30k or set CLIR_CALIB_MULTI30K")
    texts = load_captions(root, args.n)
    encoder = Encoder.from_pretrained(args.model, max_length=args.max_length, device="cpu")
    prefixed = [encoder.prefix("passage") + text for text in texts]
    st_model = sentence_transformer_for(encoder)
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

    ours_s: list[float] = []
    theirs_s: list[float] = []
    for repeat in range(args.repeats):  # interleaved, alternating which side goes first
        ours_first = (repeat % 2 == 0) != args.st_first
        if not ours_first:
            theirs, seconds = run_theirs()
            theirs_s.append(seconds)
        ours, seconds = run_ours()
        ours_s.append(seconds)
        if ours_first:
            theirs, seconds = run_theirs()
            theirs_s.append(seconds)

    agreement = (ours * theirs.cpu().float()).sum(dim=1)
    flops = encoder_flops(encoder, texts, args.batch_size)
    roofline = matmul_roofline(encoder, args.batch_size)
    achieved = [flops / seconds for seconds in ours_s]
    ratios = [theirs / ours_ for ours_, theirs in zip(ours_s, theirs_s, strict=True)]
    result = {
        "model": args.model, "captions": len(texts), "batch_size": args.batch_size, "max_length": encoder.max_length,
        "threads": torch.get_num_threads(), "repeats": args.repeats,
        "ours_sentences_per_s": spread([len(texts) / s for s in ours_s]),
        "st_sentences_per_s": spread([len(texts) / s for s in theirs_s]),
        "ratio_ours_over_st": spread(ratios),
        "gflop_per_encode": flops / 1e9,
        "achieved_gflops": spread([a / 1e9 for a in achieved]),
        "matmul_roofline_gflops": roofline / 1e9,
        "roofline_ratio": spread([a / roofline for a in achieved]),
        "cosine_agreement_min": float(agreement.min()),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"model {args.model} ({encoder.folder}); {len(texts)} captions; batch {args.batch_size}; "
          f"max_length {encoder.max_length}; torch threads {torch.get_num_threads()}; {args.repeats} repeats")
    for label, key in (("clir-calib Encoder.encode, sentences/s", "ours_sentences_per_s"),
                       ("SentenceTransformer.encode, sentences/s", "st_sentences_per_s"),
                       ("ratio ours / sentence-transformers", "ratio_ours_over_st"),
                       ("achieved GFLOP/s (ours)", "achieved_gflops"),
                       ("roofline ratio (achieved / matmul)", "roofline_ratio")):
        value = result[key]
        print(f"{label:42s} median {value['median']:9.3f}  [{value['min']:.3f}, {value['max']:.3f}]")
    print(f"{'matmul roofline GFLOP/s':42s} {roofline / 1e9:9.1f} ({flops / 1e9:.1f} GFLOP per encode of the set)")
    print(f"cosine agreement of the outputs: min {agreement.min():.6f}, mean {agreement.mean():.6f}")


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def encoder_flops(encoder: Encoder, texts: list[str], batch_size: int) -> float:
    """FLOPs of one ``encode`` of ``texts`` as it batches them (longest first, padded per batch): per layer and
    token, ``2 * (4 h^2 + 2 h f)`` for the Q/K/V/output and feed-forward projections and ``2 * 2 * L * h`` for the
    attention products over a batch padded to ``L`` tokens (embedding look-ups and norms are not counted)."""
    config = encoder.model.config
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    prefixed = [encoder.prefix("passage") + text for text in texts]
    lengths = sorted((len(ids) for ids in encoder.tokenizer(prefixed, truncation=True, max_length=encoder.max_length,
                                                            padding=False)["input_ids"]), reverse=True)
    total = 0.0
    for start in range(0, len(lengths), batch_size):
        batch = lengths[start:start + batch_size]
        padded = batch[0]
        tokens = padded * len(batch)
        total += layers * tokens * (2 * (4 * hidden * hidden + 2 * hidden * inner) + 4 * padded * hidden)
    return total


def matmul_roofline(encoder: Encoder, batch_size: int, rounds: int = 20) -> float:
    """FLOP/s of a float32 ``[tokens, hidden] x [hidden, intermediate]`` product (the encoder's largest), the
    best of ``rounds``, on the threads the encoder uses."""
    config = encoder.model.config
    tokens = batch_size * 32
    a = torch.randn(tokens, config.hidden_size)
    b = torch.randn(config.hidden_size, config.intermediate_size)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(3):
            a @ b
        for _ in range(rounds):
            started = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - started)
    return 2.0 * tokens * config.hidden_size * config.intermediate_size / best


if __name__ == "__main__":
    main()
