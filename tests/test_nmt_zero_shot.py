"""Zero-shot translate-test (a de-trained translator reading fr/cs through its multilingual encoder), its
refusals, empty documents, checkpoint selection and a translation cache that survives a killed run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from clir_calib import plugins
from clir_calib.baselines import CorpusContext
from clir_calib.errors import ClirCalibError, DataError, ModelError

pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")
from clir_calib_nmt import translator as translator_module  # noqa: E402
from clir_calib_nmt.cache import TranslationCache, model_folder_hash  # noqa: E402
from clir_calib_nmt.checkpoints import EpochSnapshot, keep_snapshot, select_weights  # noqa: E402
from clir_calib_nmt.languages import XLMR_LANGUAGES, encoder_languages  # noqa: E402
from clir_calib_nmt.recipe import NmtTrainConfig  # noqa: E402
from clir_calib_nmt.translator import GenerationSettings, Seq2SeqTranslator  # noqa: E402


def _context(tmp_path: Path, lang: str) -> CorpusContext:
    return CorpusContext(lang, "val", "translation", tmp_path / "none", tmp_path / "cache", "cpu")


def _de_model(tiny_seq2seq_dir: Path, tmp_path: Path, reads: list[str]) -> Path:
    copy = Path(shutil.copytree(tiny_seq2seq_dir, tmp_path / "de-model"))
    (copy / "clir_calib_nmt.json").write_text(
        json.dumps({"source_lang": "de", "target_lang": "en", "encoder_languages": reads}))
    return copy


def _nmt(model: Path, **params):
    return plugins.BASELINES.get("nmt")(models={"de": str(model)}, max_length=8, num_beams=1, progress=False, **params)


def test_the_encoder_languages_are_known_for_e5_and_xlmr_only():
    e5 = encoder_languages("intfloat/multilingual-e5-small", "de")
    assert {"de", "fr", "cs"} <= set(e5) and len(XLMR_LANGUAGES) == len(set(XLMR_LANGUAGES)) > 90
    assert encoder_languages("xlm-roberta-base", "de") == e5
    assert encoder_languages("/models/my-german-bert", "de") == ["de"]  # unknown encoders read their language only
    assert encoder_languages("/models/x", "de", ["fr"]) == ["de", "fr"]


def test_a_de_model_whose_encoder_reads_fr_translates_fr_zero_shot(tiny_seq2seq_dir, tmp_path):
    baseline = _nmt(_de_model(tiny_seq2seq_dir, tmp_path, ["de", "fr"]))
    out = baseline.transform_corpus(["fr-val-0", "fr-val-1"], ["un chien court", "une femme"], _context(tmp_path, "fr"))
    assert len(out) == 2
    stats = baseline.last_stats
    assert stats["zero_shot"] is True and stats["trained_on"] == "de" and stats["unknown_share"] <= 0.05
    assert not baseline.uses_target_bitext("de")


def test_zero_shot_is_refused_when_the_encoder_does_not_read_the_language_or_it_is_off(tiny_seq2seq_dir, tmp_path):
    only_de = _de_model(tiny_seq2seq_dir, tmp_path, ["de"])
    with pytest.raises(ClirCalibError, match="has an encoder that reads cs") as error:
        _nmt(only_de).transform_corpus(["x"], ["pes"], _context(tmp_path, "cs"))
    assert "nmt-train --lang cs" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ClirCalibError, match="zero_shot is off"):
        _nmt(only_de, zero_shot=False).transform_corpus(["x"], ["pes"], _context(tmp_path, "fr"))
    named = plugins.BASELINES.get("nmt")(models={"cs": str(only_de)}, max_length=8, progress=False)
    with pytest.raises(ModelError, match=r"translates de->en, not cs->en \(its encoder is not known to read cs\)"):
        named.transform_corpus(["x"], ["pes"], _context(tmp_path, "cs"))
    assert not (tmp_path / "cache").exists()  # nothing cached for a refused language


def test_a_language_the_tokenizer_cannot_spell_is_refused(tiny_seq2seq_dir, tmp_path):
    """Declared readable, but the tiny WordPiece vocabulary maps Cyrillic to [UNK]: the share gives it away."""
    baseline = _nmt(_de_model(tiny_seq2seq_dir, tmp_path, ["de", "ru"]))
    with pytest.raises(ModelError, match="unknown to the tokenizer") as error:
        baseline.transform_corpus(["ru-val-0"], ["Мужчина идёт по улице"], _context(tmp_path, "ru"))
    assert "\n" not in str(error.value)


def test_an_empty_document_is_a_one_line_error(tiny_seq2seq_dir, tmp_path):
    with pytest.raises(DataError, match="document 'de-val-1' .* is empty"):
        _nmt(tiny_seq2seq_dir).transform_corpus(["de-val-0", "de-val-1"], ["ein hund", "  "], _context(tmp_path, "de"))


def test_a_killed_translation_keeps_the_finished_chunks_and_nothing_half_written(tiny_seq2seq_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(translator_module, "CHUNK_SENTENCES", 1)
    calls = {"n": 0}
    real = Seq2SeqTranslator.translate_batch

    def dies_on_the_second_batch(self, texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, texts)

    monkeypatch.setattr(Seq2SeqTranslator, "translate_batch", dies_on_the_second_batch)
    baseline = _nmt(tiny_seq2seq_dir, batch_size=1)
    texts = ["ein hund läuft", "eine frau", "das wasser"]
    with pytest.raises(KeyboardInterrupt):
        baseline.transform_corpus(["a", "b", "c"], texts, _context(tmp_path, "de"))
    cache = TranslationCache(tmp_path / "cache", model_folder_hash(tiny_seq2seq_dir),
                             GenerationSettings(num_beams=1, batch_size=1, max_length=8).cache_key())
    assert len(cache.get(texts)) == 1  # the first (longest) sentence finished and was kept, valid JSON
    assert not list(cache.path.parent.glob("*.tmp*"))
    monkeypatch.setattr(Seq2SeqTranslator, "translate_batch", real)
    again = _nmt(tiny_seq2seq_dir, batch_size=1)
    again.transform_corpus(["a", "b", "c"], texts, _context(tmp_path, "de"))
    assert again.last_stats["from_cache"] == 1 and again.last_stats["translated"] == 2


@pytest.mark.parametrize("select, expected", [("average", 2.0), ("best", 1.0), ("last", 3.0)])
def test_checkpoint_selection_loads_the_chosen_weights(select, expected):
    model = torch.nn.Linear(1, 1, bias=False)
    losses = {1: 0.5, 2: 0.9, 3: 0.7}  # epoch 1 is best; the last three average to 2.0
    config = NmtTrainConfig(select=select, average_last=3)
    kept: list[EpochSnapshot] = []
    for epoch in (1, 2, 3):
        keep_snapshot(kept, EpochSnapshot(epoch, losses[epoch], {"weight": torch.full((1, 1), float(epoch))}), config)
    assert len(kept) == (3 if select == "average" else 1)
    info = select_weights(model, kept, config)
    assert model.weight.item() == pytest.approx(expected) and info["select"] == select


def test_the_top_encoder_layers_on_cached_states_equal_the_full_forward_pass(tiny_model_dir):
    """Training the top K layers runs them on cached states of the layer below: the same as the whole encoder."""
    from clir_calib_nmt.architecture import unfreeze_top_layers
    from clir_calib_nmt.encoding import encode_frozen, pad_states
    from transformers import AutoModel, AutoTokenizer

    from clir_calib.models.layers import top_states

    encoder = AutoModel.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["ein hund läuft auf der straße", "eine frau"]
    full = encode_frozen(encoder, tokenizer, texts, 16, 8, torch.device("cpu"))
    below = encode_frozen(encoder, tokenizer, texts, 16, 8, torch.device("cpu"), below_top=1)
    hidden, mask = pad_states(below, torch.device("cpu"))
    with torch.no_grad():
        top = top_states(encoder, hidden, mask, 1)
    for row, expected in enumerate(full):
        assert torch.allclose(top[row, : expected.shape[0]], expected.float(), atol=2e-2)
    assert not torch.allclose(below[0].float(), full[0].float(), atol=1e-2)  # the cached states are the layer below
    trained = unfreeze_top_layers(encoder, 1)
    assert trained and all(p.requires_grad for p in trained)
    with pytest.raises(Exception, match="must be below"):
        unfreeze_top_layers(encoder, 99)
