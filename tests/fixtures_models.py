"""Tiny random encoders built from a config: no downloads, deterministic, a few MB at most."""

from __future__ import annotations

from pathlib import Path

import pytest

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = list("abcdefghijklmnopqrstuvwxyzäöüßéèàçčřšžýáíěůúêâô0123456789.,!?'-:")
WORDS = [
    "a",
    "the",
    "dog",
    "man",
    "woman",
    "child",
    "children",
    "boy",
    "girl",
    "people",
    "person",
    "two",
    "three",
    "in",
    "on",
    "at",
    "of",
    "with",
    "and",
    "is",
    "are",
    "playing",
    "running",
    "street",
    "water",
    "ball",
    "red",
    "blue",
    "green",
    "black",
    "white",
    "shirt",
    "sitting",
    "standing",
    "walking",
    "ein",
    "eine",
    "der",
    "die",
    "das",
    "mann",
    "frau",
    "hund",
    "kind",
    "kinder",
    "spielt",
    "läuft",
    "straße",
    "wasser",
    "mit",
    "und",
    "auf",
    "im",
    "un",
    "une",
    "le",
    "la",
    "les",
    "homme",
    "femme",
    "chien",
    "enfant",
    "joue",
    "court",
    "rue",
    "eau",
    "avec",
    "et",
    "sur",
    "dans",
    "muž",
    "žena",
    "pes",
    "dítě",
    "děti",
    "hraje",
    "běží",
    "ulice",
    "voda",
    "s",
    "a",
    "na",
    "v",
    "query",
    "passage",
]


def make_tiny_model(folder: Path, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a random BertModel and a WordPiece fast tokenizer as a normal HF folder."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for token in SPECIALS + LETTERS + ["##" + c for c in LETTERS] + WORDS:
        vocab.setdefault(token, len(vocab))
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    return _save_random_bert(folder, tokenizer, len(vocab), vocab["[PAD]"], hidden_size, layers, seed, 128)


def _save_random_bert(folder: Path, tokenizer: object, vocab_size: int, pad_id: int, hidden_size: int, layers: int,
                      seed: int, positions: int) -> Path:
    """A random BertModel of the given size next to ``tokenizer``, as a normal HF folder."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=hidden_size * 2, max_position_embeddings=positions, pad_token_id=pad_id)
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=False)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT (hidden 32, 2 layers) with its tokenizer, shared by the session."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture(scope="session")
def tiny_model_dir_wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_model_dir`` but 48 wide: for teacher/student width-mismatch tests."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert-48") / "model", hidden_size=48, seed=1)


def make_tiny_unigram_model(folder: Path, hidden_size: int = 32, layers: int = 2, seed: int = 2) -> Path:
    """A random BertModel with an XLM-R-style tokenizer: SentencePiece-like Unigram pieces with "▁",
    ``<s> $A </s>`` and ``<pad>``, so it tokenises differently from :func:`make_tiny_model`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces: list[tuple[str, float]] = [(token, 0.0) for token in specials]
    seen = {token for token, _ in pieces}
    for word in WORDS:  # whole words as pieces, some split in two: other boundaries than WordPiece's
        for piece in (["▁" + word] if len(word) < 5 else ["▁" + word[:3], word[3:]]):
            if piece not in seen:
                seen.add(piece)
                pieces.append((piece, -float(len(pieces)) / 100))
    for letter in LETTERS:
        for piece in (letter, "▁" + letter):
            if piece not in seen:
                seen.add(piece)
                pieces.append((piece, -10.0))
    backend = Tokenizer(models.Unigram(pieces, unk_id=specials.index("<unk>"), byte_fallback=False))
    backend.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    ids = {token: i for i, (token, _) in enumerate(pieces)}
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        pad_token="<pad>", cls_token="<s>", sep_token="</s>", model_max_length=128)
    return _save_random_bert(folder, tokenizer, len(pieces), ids["<pad>"], hidden_size, layers, seed, 130)


@pytest.fixture(scope="session")
def tiny_unigram_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with a SentencePiece-style (Unigram, "▁") tokenizer: the 'other tokeniser'."""
    return make_tiny_unigram_model(tmp_path_factory.mktemp("tiny-unigram") / "model")
