"""Encoder behaviour on tiny random models: pooling, prefixes, ordering, save/load, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from clir_calib.config import EncoderConfig
from clir_calib.errors import ConfigError, DataError, ModelError
from clir_calib.models.device import resolve_device
from clir_calib.models.encoder import SETTINGS_FILE, Encoder, is_e5_name

TEXTS = [
    "a dog",
    "the man is running in the street with a red ball and two children are playing",
    "two children",
    "ein hund läuft im wasser",
    "a woman in a blue shirt is sitting",
    "x",
]


@pytest.fixture(scope="module")
def encoder(tiny_model_dir: Path) -> Encoder:
    return Encoder.from_pretrained(tiny_model_dir, device="cpu")


def test_mean_pooling_averages_real_tokens_and_normalises(encoder: Encoder) -> None:
    batch = encoder.encode_batch(TEXTS[:3])
    states, mask = batch.token_states, batch.attention_mask
    assert mask.sum(dim=1).tolist() != [mask.shape[1]] * 3  # the batch really has padding
    expected = torch.stack(
        [states[i, : int(mask[i].sum())].mean(dim=0) for i in range(3)]
    )
    expected = expected / expected.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(batch.pooled, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch.pooled.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)


def test_cls_pooling_without_normalisation(tiny_model_dir: Path) -> None:
    enc = Encoder.from_pretrained(tiny_model_dir, pooling="cls", normalize=False, device="cpu")
    batch = enc.encode_batch(TEXTS[:3])
    torch.testing.assert_close(batch.pooled, batch.token_states[:, 0].float())
    assert not torch.allclose(batch.pooled.norm(dim=-1), torch.ones(3), atol=1e-3)


def test_encode_batch_has_gradients_and_marks_only_real_specials(encoder: Encoder) -> None:
    batch = encoder.encode_batch(TEXTS[:3])
    assert batch.pooled.requires_grad and batch.token_states.requires_grad
    special = batch.special_tokens_mask
    assert special is not None
    lengths = batch.attention_mask.sum(dim=1)
    for row in range(3):
        n = int(lengths[row])
        assert special[row, 0] == 1 and special[row, n - 1] == 1  # [CLS] ... [SEP]
        assert int(special[row].sum()) == 2  # nothing else, padding included
    batch.pooled.sum().backward()
    assert encoder.model.embeddings.word_embeddings.weight.grad is not None
    encoder.model.zero_grad(set_to_none=True)


def test_encode_keeps_caller_order_and_matches_encode_batch(encoder: Encoder) -> None:
    full = encoder.encode(TEXTS, batch_size=2)
    assert full.shape == (len(TEXTS), encoder.hidden_size) and full.dtype == torch.float32
    with torch.no_grad():
        one_by_one = torch.cat([encoder.encode_batch([t]).pooled for t in TEXTS])
    torch.testing.assert_close(full, one_by_one, atol=1e-5, rtol=1e-4)
    permutation = [3, 0, 5, 1, 4, 2]
    shuffled = encoder.encode([TEXTS[i] for i in permutation], batch_size=3)
    torch.testing.assert_close(shuffled, full[permutation], atol=1e-5, rtol=1e-4)
    assert encoder.encode([], batch_size=2).shape == (0, encoder.hidden_size)


def test_encode_uses_eval_mode_and_restores_training(encoder: Encoder) -> None:
    encoder.model.train()
    try:
        first = encoder.encode(TEXTS[:2])
        second = encoder.encode(TEXTS[:2])
        torch.testing.assert_close(first, second)  # no dropout noise
        assert encoder.model.training
    finally:
        encoder.model.eval()


def test_progress_bar_option_runs(encoder: Encoder) -> None:
    torch.testing.assert_close(encoder.encode(TEXTS, progress=True), encoder.encode(TEXTS))


def test_prefixes_per_role(tiny_model_dir: Path) -> None:
    enc = Encoder.from_pretrained(tiny_model_dir, query_prefix="query: ", passage_prefix="passage: ", device="cpu")
    tok = enc.tokenizer
    query_ids = enc.tokenize(["a dog"], role="query")["input_ids"][0].tolist()
    plain_ids = tok(["query: a dog"])["input_ids"][0]
    assert query_ids == plain_ids
    passage_ids = enc.tokenize(["a dog"], role="passage")["input_ids"][0].tolist()
    assert passage_ids == tok(["passage: a dog"])["input_ids"][0]
    assert not torch.allclose(enc.encode(["a dog"], role="query"), enc.encode(["a dog"], role="passage"))
    with pytest.raises(ConfigError, match="role"):
        enc.encode(["a dog"], role="document")


def test_e5_names_get_prefixes_by_default(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert is_e5_name("intfloat/multilingual-e5-small") and is_e5_name("e5-base-v2")
    assert not is_e5_name("xlm-roberta-base") and not is_e5_name("bert-base-multilingual-cased")
    e5_copy = shutil.copytree(tiny_model_dir, tmp_path / "my-e5-small")
    enc = Encoder.from_pretrained(e5_copy, device="cpu")
    assert (enc.prefix("query"), enc.prefix("passage")) == ("query: ", "passage: ")
    plain = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    assert (plain.prefix("query"), plain.prefix("passage")) == ("", "")
    off = Encoder.from_pretrained(e5_copy, query_prefix="", passage_prefix="", device="cpu")
    assert (off.prefix("query"), off.prefix("passage")) == ("", "")


def test_max_length_truncates(tiny_model_dir: Path) -> None:
    enc = Encoder.from_pretrained(tiny_model_dir, max_length=5, device="cpu")
    batch = enc.tokenize([TEXTS[1]])
    assert batch["input_ids"].shape[1] == 5
    capped = Encoder.from_pretrained(tiny_model_dir, max_length=10_000, device="cpu")
    assert capped.max_length == 128  # the tiny model's position limit


def test_save_and_load_roundtrip(tiny_model_dir: Path, tmp_path: Path) -> None:
    enc = Encoder.from_pretrained(
        tiny_model_dir, pooling="cls", max_length=16, query_prefix="q: ", passage_prefix="p: ", device="cpu"
    )
    folder = enc.save(tmp_path / "saved")
    assert (folder / SETTINGS_FILE).is_file() and (folder / "model.safetensors").is_file()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp leftovers
    back = Encoder.from_pretrained(folder, device="cpu")
    assert (back.settings.pooling, back.max_length, back.prefix("query"), back.prefix("passage")) == (
        "cls", 16, "q: ", "p: "
    )
    torch.testing.assert_close(back.encode(TEXTS, role="query"), enc.encode(TEXTS, role="query"))


def test_encoders_share_a_tokenizer_only_for_the_same_tokenizer_files(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Loading the same tokenizer again is skipped (1.2 s for e5's), keyed by the files' bytes, not the path."""
    first = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    assert Encoder.from_pretrained(tiny_model_dir, max_length=5, device="cpu").tokenizer is first.tokenizer
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "copy"))
    assert Encoder.from_pretrained(copy, device="cpu").tokenizer is first.tokenizer  # same bytes elsewhere
    config = copy / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "model_max_length": 7}))
    edited = Encoder.from_pretrained(copy, device="cpu")
    assert edited.tokenizer is not first.tokenizer and edited.max_length == 7  # an edited file is read again


def test_a_saved_encoder_keeps_its_tokenizer_files_and_shares_the_loaded_tokenizer(tiny_model_dir: Path,
                                                                                  tmp_path: Path) -> None:
    """A student saved from a base model carries the base's tokenizer files byte for byte, so loading it reuses the
    base's tokenizer (a saved config.json adds only ``dtype``); a tokenizer whose source files changed since it was
    loaded is written by ``save_pretrained`` and read again."""
    from clir_calib.models.loading import TOKENIZER_INPUTS, tokenizer_inputs_digest

    base = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    saved = base.save(tmp_path / "student")
    for name in TOKENIZER_INPUTS:
        if name != "config.json" and (tiny_model_dir / name).is_file():
            assert (saved / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    assert tokenizer_inputs_digest(saved) == tokenizer_inputs_digest(tiny_model_dir)
    back = Encoder.from_pretrained(saved, device="cpu")
    assert back.tokenizer is base.tokenizer
    torch.testing.assert_close(back.encode(TEXTS), base.encode(TEXTS))

    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "model_type": "not-the-same"}))
    assert tokenizer_inputs_digest(saved) != tokenizer_inputs_digest(tiny_model_dir)  # other keys still count

    moved = Path(shutil.copytree(tiny_model_dir, tmp_path / "moved"))
    loaded = Encoder.from_pretrained(moved, device="cpu")
    tokenizer_config = moved / "tokenizer_config.json"
    tokenizer_config.write_text(json.dumps({**json.loads(tokenizer_config.read_text()), "model_max_length": 9}))
    again = loaded.save(tmp_path / "again")  # its source changed: re-serialised, not copied
    assert json.loads((again / "tokenizer_config.json").read_text()).get("model_max_length") != 9


def test_save_into_existing_run_folder_keeps_other_files(encoder: Encoder, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text("{}\n")
    encoder.save(run)
    encoder.save(run)  # overwriting is fine
    assert (run / "log.jsonl").read_text() == "{}\n"
    assert (run / "config.json").is_file() and (run / SETTINGS_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_load_from_encoder_config(tiny_model_dir: Path) -> None:
    cfg = EncoderConfig(name=str(tiny_model_dir), pooling="cls", max_length=12, batch_size=3)
    enc = Encoder.load(cfg, device="cpu")
    assert (enc.settings.pooling, enc.max_length, enc.settings.batch_size) == ("cls", 12, 3)
    assert enc.device == torch.device("cpu")


def test_bad_inputs_raise_one_line_errors(encoder: Encoder, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="list of texts"):
        encoder.encode("a dog")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="not a string"):
        encoder.encode(["a dog", None])  # type: ignore[list-item]
    with pytest.raises(DataError, match="empty batch"):
        encoder.encode_batch([])
    with pytest.raises(ConfigError, match="pooling"):
        Encoder.from_pretrained(encoder.folder, pooling="max")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="does not exist"):
        Encoder.from_pretrained(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        Encoder.from_pretrained(tmp_path / "empty")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")
