"""Check nmt-train's CUDA path (bf16 autocast) and time the default-size decoder on the current device.

No downloads and no Multi30k: the encoder is random, e5-small-shaped (384 wide, 12 layers), with
the tiny test tokenizer; the sentences come from the fake-Multi30k phrase tables. Timings are for
the default decoder and batch settings and the given number of pairs, not for quality.

    PYTHONPATH=.:plugins/clir-calib-nmt:tests python plugins/clir-calib-nmt/bench/nmt_device_check.py \
        --pairs 29000 --device cuda --out /tmp/nmt-check
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def synthetic_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    from fixtures_data import ACTIONS, PLACES, SUBJECTS

    rng = random.Random(seed)
    de, en = [], []
    for _ in range(n):
        s, a, p = (rng.randrange(len(SUBJECTS)), rng.randrange(len(ACTIONS)), rng.randrange(len(PLACES)))
        en.append(f"{SUBJECTS[s][0]} {ACTIONS[a][0]} {PLACES[p][0]}")
        de.append(f"{SUBJECTS[s][1]} {ACTIONS[a][1]} {PLACES[p][1]}")
    return de, en


def e5_shaped_encoder(folder: Path) -> Path:
    """A random 12-layer, 384-wide BERT with the tiny WordPiece tokenizer (e5-small's shape)."""
    import torch
    from fixtures_models import make_tiny_model
    from transformers import AutoTokenizer, BertConfig, BertModel

    make_tiny_model(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=29000)
    parser.add_argument("--val-pairs", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("/tmp/nmt-device-check"))
    args = parser.parse_args()

    import torch
    import transformers
    from clir_calib_nmt.recipe import NmtTrainConfig, Pairs
    from clir_calib_nmt.training import train_nmt
    from clir_calib_nmt.translator import GenerationSettings, Seq2SeqTranslator

    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "cuda": torch.cuda.is_available(),
                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            }
        )
    )
    encoder = e5_shaped_encoder(args.out / "encoder")
    de, en = synthetic_pairs(args.pairs + args.val_pairs, seed=1)
    config = NmtTrainConfig(encoder="random-e5-shaped", device=args.device, eval_beams=4)
    started = time.perf_counter()
    result = train_nmt(
        Pairs(de[: args.pairs], en[: args.pairs]),
        Pairs(de[args.pairs :], en[args.pairs :]),
        config,
        args.out / "model",
        encoder_folder=encoder,
        overwrite=True,
        progress=False,
    )
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    translator = Seq2SeqTranslator.load(args.out / "model", device=args.device, settings=GenerationSettings())
    sample = translator.translate(["Ein Mann läuft im Park.", "Eine junge Frau liest ein Buch am Strand."])
    result["sample_translations"] = sample
    result["model_device"] = str(next(translator.model.parameters()).device)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
