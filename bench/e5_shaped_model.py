"""Write a randomly initialised model with multilingual-e5-small's shape (for GPU timing checks).

The real weights cannot always travel to a GPU machine; speed depends on the architecture, not the
weights, so timings with this model stand for e5-small's (Sinkhorn iteration counts excepted).
The tokenizer is a WordPiece trained on the given captions so that sequence lengths are realistic.

    python bench/e5_shaped_model.py --captions DIR_WITH_TRAIN_GZ --out /tmp/e5-shaped
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captions", type=Path, required=True, help="task1/raw folder of Multi30k")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines: list[str] = []
    for lang in ("en", "de", "fr", "cs"):
        with gzip.open(args.captions / f"train.{lang}.gz", "rt", encoding="utf-8") as handle:
            lines += [line.strip() for line in handle]
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    backend.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=30000, special_tokens=specials))
    vocab = backend.get_vocab()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                        model_max_length=512)
    config = BertConfig(vocab_size=len(vocab), hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512, pad_token_id=vocab["[PAD]"])
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, vocab {len(vocab)}")


if __name__ == "__main__":
    main()
