"""The NMT plugin package (plugins/clir-calib-nmt): discovery, the nmt and oracle baselines, caching."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clir_calib import plugins
from clir_calib.baselines import CorpusContext, DocumentBaseline
from clir_calib.cli import app
from clir_calib.errors import ClirCalibError, ConfigError, DataError, ModelError

nmt = pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")
from clir_calib_nmt.cache import model_folder_hash  # noqa: E402
from clir_calib_nmt.translator import GenerationSettings, Seq2SeqTranslator  # noqa: E402

runner = CliRunner()
SOURCES = [
    "ein hund läuft auf der straße",
    "eine frau mit kind",
    "ein hund läuft auf der straße",
    "das wasser",
]


def _context(
    tmp_path: Path, lang: str = "de", prepared: Path | None = None, split: str = "val"
) -> CorpusContext:
    return CorpusContext(
        lang=lang,
        split=split,
        task="translation",
        prepared=prepared or tmp_path / "none",
        cache_dir=tmp_path / "cache",
        device="cpu",
    )


def _baseline(model: Path, **params):
    settings = {"max_length": 8, "num_beams": 2, "progress": False, **params}
    return plugins.BASELINES.get("nmt")(models={"de": str(model)}, **settings)


def test_plugin_is_discovered_through_its_entry_point():
    entry_points = {ep.name: ep for ep in importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)}
    assert "nmt" in entry_points, "plugins/clir-calib-nmt is not installed (run ./setup.sh)"
    assert entry_points["nmt"].dist is not None and entry_points["nmt"].dist.name == "clir-calib-nmt"
    assert entry_points["nmt"].value == "clir_calib_nmt"
    assert plugins.BASELINES.get("nmt") is nmt.NmtBaseline
    assert plugins.BASELINES.get("oracle") is nmt.OracleBaseline
    assert issubclass(nmt.NmtBaseline, DocumentBaseline) and issubclass(nmt.OracleBaseline, DocumentBaseline)
    assert {"name": "nmt", "source": "clir-calib-nmt"} in plugins.plugin_sources()


def test_cli_plugins_lists_both_baselines_and_the_commands():
    listing = runner.invoke(app, ["plugins", "--json"])
    assert listing.exit_code == 0, listing.output
    baselines = {row["name"]: row for row in json.loads(listing.output)["baselines"]}
    assert {"nmt", "oracle"} <= set(baselines)
    assert {p["name"] for p in baselines["nmt"]["params"]} >= {
        "models",
        "num_beams",
        "batch_size",
        "max_length",
    }
    table = runner.invoke(app, ["plugins"])
    assert table.exit_code == 0 and "nmt" in table.output and "clir-calib-nmt" in table.output
    usage = runner.invoke(app, ["--help"])
    assert "nmt-train" in usage.output and "nmt-translate" in usage.output


def test_translation_is_cached_by_model_and_input_hash(tiny_seq2seq_dir, tmp_path, monkeypatch):
    first = _baseline(tiny_seq2seq_dir)
    out = first.transform_corpus([f"de-val-{i}" for i in range(4)], SOURCES, _context(tmp_path))
    assert len(out) == 4 and all(isinstance(t, str) for t in out)
    assert out[0] == out[2]  # duplicates translated once, same output
    counts = ("documents", "from_cache", "translated")
    assert {k: first.last_stats[k] for k in counts} == {"documents": 4, "from_cache": 0, "translated": 3}
    assert first.last_stats["zero_shot"] is False and first.last_stats["references"] == 0  # no prepared data here
    direct = Seq2SeqTranslator.load(tiny_seq2seq_dir, "cpu", GenerationSettings(num_beams=2, max_length=8))
    assert direct.translate(SOURCES) == out

    def no_model(*args, **kwargs):
        raise AssertionError("the model was called although every sentence is cached")

    monkeypatch.setattr(Seq2SeqTranslator, "translate_batch", no_model)
    second = _baseline(tiny_seq2seq_dir)  # a fresh instance: the cache is read from disk
    assert second.transform_corpus(["a", "b", "c", "d"], SOURCES, _context(tmp_path)) == out
    assert {k: second.last_stats[k] for k in counts} == {"documents": 4, "from_cache": 3, "translated": 0}
    assert (
        _baseline(tiny_seq2seq_dir, batch_size=1).transform_corpus(["x"], SOURCES[:1], _context(tmp_path))
        == out[:1]
    )
    with pytest.raises(AssertionError, match="cached"):  # a new sentence needs the model
        _baseline(tiny_seq2seq_dir).transform_corpus(["x"], ["ein neuer satz"], _context(tmp_path))
    with pytest.raises(AssertionError, match="cached"):  # another beam size: another cache entry
        _baseline(tiny_seq2seq_dir, num_beams=3).transform_corpus(["x"], SOURCES[:1], _context(tmp_path))


def test_generation_stops_at_the_decoder_position_limit(tiny_seq2seq_dir):
    translator = Seq2SeqTranslator.load(
        tiny_seq2seq_dir, "cpu", GenerationSettings(num_beams=1, max_length=500)
    )
    assert translator.max_new_tokens == 62  # the tiny decoder has 64 positions
    long_source = " ".join(
        ["ein hund läuft auf der straße"] * 6
    )  # 2 * tokens + 10 > 62: the position cap binds
    (text,) = translator.translate([long_source])  # a random model rarely stops: runs into the limit
    assert isinstance(text, str)


def test_output_length_follows_the_source_length(tiny_seq2seq_dir):
    translator = Seq2SeqTranslator.load(
        tiny_seq2seq_dir, "cpu", GenerationSettings(num_beams=1, max_length=500)
    )
    (short,) = translator.translate(["hund"])  # [CLS] hund [SEP]: at most 2 * 3 + 10 new tokens
    assert len(translator.tokenizer(short, add_special_tokens=False)["input_ids"]) <= 16


def test_model_hash_changes_with_the_weights(tiny_seq2seq_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_seq2seq_dir, tmp_path / "copy"))
    assert model_folder_hash(copy) == model_folder_hash(tiny_seq2seq_dir)
    config = json.loads((copy / "config.json").read_text())
    config["decoder"]["hidden_dropout_prob"] = 0.2
    (copy / "config.json").write_text(json.dumps(config))
    assert model_folder_hash(copy) != model_folder_hash(tiny_seq2seq_dir)


@pytest.mark.parametrize("lang", ["fr", "cs"])
def test_language_without_a_model_is_a_one_line_error(tiny_seq2seq_dir, tmp_path, lang):
    with pytest.raises(ClirCalibError) as error:
        _baseline(tiny_seq2seq_dir).transform_corpus(["x"], ["un chien"], _context(tmp_path, lang))
    message = str(error.value)
    assert f"no translation model for language {lang!r}" in message and f"nmt-train --lang {lang}" in message
    assert "\n" not in message
    assert not (tmp_path / "cache").exists()


def test_missing_or_unreachable_models_are_model_errors(tmp_path):
    baseline = plugins.BASELINES.get("nmt")
    with pytest.raises(ModelError, match="does not exist"):
        baseline(models={"fr": "./no-such-folder"}).transform_corpus(["x"], ["y"], _context(tmp_path, "fr"))
    with pytest.raises(ModelError, match="switched off") as error:  # conftest sets HF_HUB_OFFLINE=1
        baseline(model_template="Helsinki-NLP/opus-mt-{lang}-en").transform_corpus(
            ["x"], ["y"], _context(tmp_path, "cs")
        )
    assert "Helsinki-NLP/opus-mt-cs-en" in str(error.value) and "\n" not in str(error.value)


def test_a_model_trained_for_another_language_is_refused(tiny_seq2seq_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_seq2seq_dir, tmp_path / "de-model"))
    (copy / "clir_calib_nmt.json").write_text(json.dumps({"source_lang": "de", "target_lang": "en"}))
    with pytest.raises(ModelError, match="translates de->en, not fr->en"):
        plugins.BASELINES.get("nmt")(model_template=str(copy)).transform_corpus(
            ["x"], ["y"], _context(tmp_path, "fr")
        )


def test_models_parameter_accepts_text_and_rejects_garbage():
    baseline = plugins.BASELINES.get("nmt")
    assert baseline(models="de=runs/nmt-de, fr=m/fr").config["models"] == {"de": "runs/nmt-de", "fr": "m/fr"}
    given = baseline(models={"de": "runs/nmt-de"}).get_config_dict()
    assert yaml.safe_load(yaml.safe_dump(given))["models"] == {
        "de": "runs/nmt-de"
    }  # plain data for config.yaml
    with pytest.raises(ConfigError, match="models"):
        baseline(models="runs/nmt-de")
    with pytest.raises(ConfigError, match="num_beams"):
        baseline(num_beams=0)


def test_oracle_maps_captions_to_their_english_line(prepared_dir, tmp_path):
    from clir_calib.data.store import load_task

    english = load_task(prepared_dir, "translation", "de", "val").queries
    task = load_task(prepared_dir, "description", "de", "val")
    doc_ids = sorted(task.corpus, reverse=True)  # any order: mapping is by id, not position
    texts = [task.corpus[d] for d in doc_ids]
    oracle = plugins.BASELINES.get("oracle")()
    out = oracle.transform_corpus(doc_ids, texts, _context(tmp_path, "de", prepared_dir))
    descriptions = [d for d in doc_ids if "-d" in d]
    assert descriptions, "the de description corpus should hold task-2 descriptions"
    for doc_id, text, result in zip(doc_ids, texts, out, strict=True):
        if doc_id in descriptions:
            assert result == text  # no English counterpart: kept as it is
        else:
            assert result == english[f"val-{int(doc_id.rsplit('-', 1)[1])}"]
            assert result != text
    assert oracle.last_stats["kept_untranslated"] == len(descriptions)
    with pytest.raises(DataError, match="no English counterpart"):
        plugins.BASELINES.get("oracle")(untranslatable="error").transform_corpus(
            doc_ids, texts, _context(tmp_path, "de", prepared_dir)
        )


def test_oracle_for_fr_test_split(prepared_dir, tmp_path):
    from clir_calib.data.store import load_task

    task = load_task(prepared_dir, "translation", "fr", "test_2016_flickr")
    doc_ids = list(task.corpus)
    out = plugins.BASELINES.get("oracle")().transform_corpus(
        doc_ids, [task.corpus[d] for d in doc_ids], _context(tmp_path, "fr", prepared_dir, "test_2016_flickr")
    )
    for doc_id, result in zip(doc_ids, out, strict=True):
        (query_id,) = [q for q, rels in task.qrels.items() if rels.get(doc_id)]
        assert result == task.queries[query_id]
