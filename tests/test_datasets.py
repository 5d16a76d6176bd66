"""Datasets through the ``register_datasets`` hook: Multi30k splits found from file names (test_2017_mscoco,
test_2018_flickr), BEIR and TREC folders end to end, their bad input, and a third-party dataset."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib import hookimpl, plugins
from clir_calib.cli import app
from clir_calib.data import prepare_data, prepare_multi30k
from clir_calib.data.datasets import Dataset, DatasetContent, DatasetRequest, TaskData
from clir_calib.data.store import available_tasks, load_bitext, load_manifest, load_task
from clir_calib.errors import ConfigError, DataError

runner = CliRunner()
WORDS = {"de": ["Hund", "Katze", "Haus", "Baum", "Auto", "Strand", "Ball", "Fahrrad"],
         "fr": ["chien", "chat", "maison", "arbre", "voiture", "plage", "ballon", "vélo"]}
ENGLISH = ["dog", "cat", "house", "tree", "car", "beach", "ball", "bike"]


def _gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def add_test_split(root: Path, split: str, langs: tuple[str, ...], n: int = 6) -> None:
    """Task-1 files of an official test split that the shared copy lacks: captions and the image list only."""
    (root / "task1" / "image_splits").mkdir(parents=True, exist_ok=True)
    (root / "task1" / "image_splits" / f"{split}.txt").write_text("".join(f"{split}-{i}.jpg\n" for i in range(n)))
    captions = {"en": "A {} near a {}.", "de": "Ein {} bei einem {}.", "fr": "Un {} près d'un {}.", "cs": "{} u {}."}
    for lang in langs:
        words = ENGLISH if lang in ("en", "cs") else WORDS[lang]
        _gz(root / "task1" / "raw" / f"{split}.{lang}.gz",
            [captions[lang].format(words[i % 8], words[(i + 3) % 8]) for i in range(n)])


@pytest.fixture
def official(fake_multi30k: Path, tmp_path: Path) -> Path:
    """The fake Multi30k plus test_2017_mscoco (en, de, fr) and test_2018_flickr (en, de, fr, cs), task 1 only."""
    root = Path(shutil.copytree(fake_multi30k, tmp_path / "official"))
    add_test_split(root, "test_2017_mscoco", ("en", "de", "fr"))
    add_test_split(root, "test_2018_flickr", ("en", "de", "fr", "cs"))
    return root


def test_new_official_splits_are_found_with_the_languages_they_have(official: Path, tmp_path: Path) -> None:
    summary = prepare_multi30k(tmp_path / "p", source=official, splits=["test_2017_mscoco", "test_2018_flickr"])
    assert {(t.task, t.lang, t.split) for t in summary.tasks} == {
        ("translation", "de", "test_2017_mscoco"), ("translation", "fr", "test_2017_mscoco"),
        *(("translation", lang, "test_2018_flickr") for lang in ("de", "fr", "cs"))}
    assert all(t.queries == 6 and t.qrels == 6 for t in summary.tasks)
    notes = " | ".join(summary.notes)
    assert "test_2017_mscoco: the source has no cs captions" in notes  # the release has none either: no hint
    assert "add task1/raw/test_2017_mscoco.cs.gz" not in notes
    assert "test_2018_flickr: description task unavailable" in notes and "translation task only" in notes
    task = load_task(tmp_path / "p", "translation", "cs", "test_2018_flickr")
    assert task.queries["test_2018_flickr-0"] == "A dog near a tree." and len(task.corpus) == 6


def test_a_missing_official_language_is_named_with_the_file_to_add(official: Path, tmp_path: Path) -> None:
    (official / "task1/raw/test_2018_flickr.cs.gz").unlink()
    summary = prepare_multi30k(tmp_path / "p", source=official, splits=["val", "test_2018_flickr"],
                               langs=["de", "cs"])
    assert [t.lang for t in summary.tasks if t.split == "test_2018_flickr"] == ["de"]
    assert any("add task1/raw/test_2018_flickr.cs.gz" in note for note in summary.notes)


def test_new_splits_come_through_a_url_too(official: Path, tmp_path: Path) -> None:
    summary = prepare_multi30k(tmp_path / "p", url=official.as_uri(), cache_dir=tmp_path / "cache",
                               splits=["test_2018_flickr"], langs=["cs"])
    assert [(t.lang, t.split) for t in summary.tasks] == [("cs", "test_2018_flickr")]
    recorded = json.loads(next((tmp_path / "cache").glob("*/checksums.json")).read_text())["files"]
    assert "task1/raw/test_2018_flickr.cs.gz" in recorded  # checksums recorded as for every download


def test_unknown_split_names_the_splits_found(official: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        app(["prepare", "--source", str(official), "--out", str(tmp_path / "p"), "--splits", "test_2019_flickr"],
            prog_name="clir-calib")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown split 'test_2019_flickr'" in err and "test_2017_mscoco, test_2018_flickr" in err
    assert not (tmp_path / "p").exists()


def test_evaluate_splits_accept_discovered_splits_and_name_the_prepared_ones(official, tmp_path, tiny_model_dir):
    prepared = tmp_path / "p"
    prepare_multi30k(prepared, source=official, splits=["val", "test_2018_flickr"], langs=["de", "cs"])
    common = ["--device", "cpu", "evaluate", "--prepared", str(prepared), "-m", str(tiny_model_dir), "--teacher",
              str(tiny_model_dir), "--set", f"evaluate.index_dir={tmp_path / 'index'}", "--top-k", "5",
              "--bootstrap", "20", "--no-progress", "--tasks", "translation", "--langs", "de,cs"]
    result = runner.invoke(app, [*common, "--splits", "val,test_2018_flickr", "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e/translation/cs/test_2018_flickr/metrics.json").is_file()
    bad = runner.invoke(app, [*common, "--splits", "test_2018_flikr", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown split 'test_2018_flikr'" in bad.output
    assert "val, test_2018_flickr" in bad.output and not (tmp_path / "bad").exists()


# --- folder collections (BEIR layout, TREC files) -------------------------------------------------------------

def make_beir(root: Path, langs: tuple[str, ...] = ("de", "fr"), bitext: bool = True) -> Path:
    """One BEIR folder per language: 8 documents, 8 English queries, dev and test qrels; de has bitext."""
    for lang in langs:
        folder = root / lang
        (folder / "qrels").mkdir(parents=True)
        docs = [{"_id": f"{lang}{i}", "title": "", "text": f"{WORDS[lang][i]} {WORDS[lang][(i + 1) % 8]}"}
                for i in range(8)]
        (folder / "corpus.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        queries = [{"_id": f"q{i}", "text": f"a {ENGLISH[i]} and a {ENGLISH[(i + 1) % 8]}"} for i in range(8)]
        (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
        for split, ids in (("dev", range(0, 4)), ("test", range(4, 8))):
            rows = "".join(f"q{i}\t{lang}{i}\t1\n" for i in ids)
            (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
        if bitext and lang == "de":
            (folder / "bitext").mkdir()
            pairs = "".join(f"a {e}\tein {d}\n" for e, d in zip(ENGLISH, WORDS["de"], strict=True))
            (folder / "bitext" / "train.tsv").write_text(pairs)
            (folder / "bitext" / "val.tsv").write_text(pairs)
    return root


def make_trec(root: Path, langs: tuple[str, ...] = ("de", "fr")) -> Path:
    """The same collection as TREC files: topics.tsv, documents.jsonl (docno), qrels/SPLIT.txt."""
    for lang in langs:
        folder = root / lang
        (folder / "qrels").mkdir(parents=True)
        (folder / "documents.jsonl").write_text("".join(
            json.dumps({"docno": f"{lang}{i}", "text": f"{WORDS[lang][i]} {WORDS[lang][(i + 1) % 8]}"},
                       ensure_ascii=False) + "\n" for i in range(8)))
        (folder / "topics.tsv").write_text("".join(f"q{i}\ta {ENGLISH[i]} and a {ENGLISH[(i + 1) % 8]}\n"
                                                   for i in range(8)))
        for split, ids in (("dev", range(0, 4)), ("test", range(4, 8))):
            (folder / "qrels" / f"{split}.txt").write_text("".join(f"q{i} 0 {lang}{i} 1\n" for i in ids))
    return root


@pytest.mark.parametrize("make", [make_beir, make_trec], ids=["beir", "trec"])
def test_a_folder_collection_goes_through_prepare_evaluate_and_calibrate(make, tmp_path, tiny_model_dir) -> None:
    source = make(tmp_path / "collection")
    prepared, evaluated, calibrated = tmp_path / "p", tmp_path / "e", tmp_path / "c"
    splits = "dev,test"  # the BEIR folder's bitext (train, val) is prepared although data.splits does not name it
    steps = [
        ["prepare", "--dataset", "folder", "--source", str(source), "--langs", "de,fr", "--splits", splits,
         "--out", str(prepared)],
        ["evaluate", "--prepared", str(prepared), "-m", str(tiny_model_dir), "--teacher", str(tiny_model_dir),
         "--set", f"evaluate.index_dir={tmp_path / 'index'}", "--top-k", "5", "--bootstrap", "20", "--no-progress",
         "--tasks", "retrieval", "--langs", "de,fr", "--splits", "dev,test", "--out", str(evaluated)],
        ["calibrate", "--eval", str(evaluated), "--calibrators", "identity,temperature", "--fit-lang", "de",
         "--fit-split", "dev", "--langs", "de,fr", "--splits", "test", "--no-diagrams", "--out", str(calibrated)],
    ]
    for args in steps:
        result = runner.invoke(app, ["--device", "cpu", *args])
        assert result.exit_code == 0, result.output
    assert available_tasks(prepared) == [("retrieval", lang, split) for lang in ("de", "fr") for split in ("dev", "test")]
    manifest = load_manifest(prepared)
    assert manifest["dataset"] == {"name": "folder", "params": {"task": "retrieval", "bitext": True}}
    task = load_task(prepared, "retrieval", "fr", "test")
    assert sorted(task.queries) == ["q4", "q5", "q6", "q7"] and len(task.corpus) == 8
    assert task.qrels["q5"] == {"fr5": 1}
    assert len(load_task(prepared, "retrieval", "fr", "test", max_images=2).corpus) == 8  # documents are kept
    rows = json.loads((calibrated / "calibration.json").read_text())["rows"]
    assert {(r["lang"], r["split"], r["role"]) for r in rows} >= {("de", "test", "seen"), ("fr", "test", "unseen")}
    if make is make_beir:
        assert manifest["bitext"] == {"de": {"train": 8, "val": 8}}
        assert any("fr: no bitext" in note and "not distilled on" in note for note in manifest["notes"])


def test_bitext_turned_off_is_named_and_the_suggested_command_brings_it_back(tmp_path) -> None:
    from tests.test_prepare_errors import _run_the_suggested_command

    source = make_beir(tmp_path / "collection")
    prepared = tmp_path / "p"
    result = runner.invoke(app, ["prepare", "--dataset", "folder", "--source", str(source), "--langs", "de,fr",
                                 "--splits", "dev,test", "--set", "data.params.bitext=false", "--out", str(prepared)])
    assert result.exit_code == 0, result.output
    with pytest.raises(DataError, match="data.params.bitext=false") as missing:
        load_bitext(prepared, "de", "train")
    _run_the_suggested_command(str(missing.value))
    assert len(load_bitext(prepared, "de", "train")) == 8


def _prepare_fails(source: Path, tmp_path: Path, capsys, *extra: str) -> str:
    with pytest.raises(SystemExit) as exited:
        app(["prepare", "--dataset", "folder", "--source", str(source), "--langs", "de,fr", "--splits", "dev,test",
             "--out", str(tmp_path / "out"), *extra], prog_name="clir-calib")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
    return err


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("damage, expected", [
    (lambda r: (r / "fr/queries.jsonl").unlink(), "neither a BEIR folder"),
    (lambda r: (r / "fr/qrels/test.tsv").unlink() or (r / "fr/qrels/dev.tsv").unlink(), "missing file"),
    (lambda r: _edit(r / "fr/qrels/test.tsv", "q5\tfr5", "q5\tfr99"), "fr/qrels/test.tsv line 3: unknown document 'fr99'"),
    (lambda r: _edit(r / "de/qrels/dev.tsv", "q1\tde1", "q42\tde1"), "de/qrels/dev.tsv line 3: unknown query 'q42'"),
    (lambda r: _edit(r / "de/corpus.jsonl", '"_id": "de3"', '"_id": "de2"'), "de/corpus.jsonl line 4: duplicate document id 'de2' (first at line 3)"),
    (lambda r: _edit(r / "fr/queries.jsonl", '"text": "a car and a beach"', '"text": "  "'), "fr/queries.jsonl line 5: empty text for query 'q4'"),
    (lambda r: _edit(r / "fr/corpus.jsonl", '{"_id": "fr0"', '{"_id" "fr0"'), "fr/corpus.jsonl line 1: not valid JSON"),
    (lambda r: _edit(r / "de/bitext/train.tsv", "a dog\tein Hund", "a dog"), "de/bitext/train.tsv line 1: expected 'english<TAB>translation'"),
    (lambda r: _edit(r / "fr/qrels/test.tsv", "q5\tfr5\t1", "q5\tfr5\tinf"), "line 3: relevance 'inf' must be an integer"),
    (lambda r: _edit(r / "fr/qrels/test.tsv", "q5\tfr5\t1", "q5\tfr5\t1e30"), "line 3: relevance '1e30' must be an integer"),
    (lambda r: _edit(r / "fr/qrels/test.tsv", "q5\tfr5\t1", "q5\tfr5\t1.5"), "line 3: relevance '1.5' must be an integer"),
    (lambda r: _edit(r / "de/corpus.jsonl", '"_id": "de3"', '"_id": "de 3"') or _edit(r / "de/qrels/dev.tsv", "de3", "de 3"),
     "'de 3' cannot be written to TREC files"),
], ids=["missing-file", "no-qrels", "unknown-doc", "unknown-query", "duplicate-id", "empty-text", "bad-json", "bad-bitext",
        "grade-inf", "grade-huge", "grade-fraction", "id-with-space"])
def test_bad_beir_input_is_one_line_naming_file_and_line(damage, expected, tmp_path, capsys) -> None:
    source = make_beir(tmp_path / "collection")
    damage(source)
    assert expected in _prepare_fails(source, tmp_path, capsys)


def test_bad_trec_input_names_file_and_line(tmp_path, capsys) -> None:
    source = make_trec(tmp_path / "collection")
    _edit(source / "de/qrels/test.txt", "q6 0 de6 1", "q6 0 de6")
    assert "de/qrels/test.txt line 3: expected 'qid 0 docid relevance'" in _prepare_fails(source, tmp_path, capsys)
    source = make_trec(tmp_path / "second")
    _edit(source / "fr/topics.tsv", "q2\t", "q1\t")
    assert "fr/topics.tsv line 3: duplicate query id 'q1'" in _prepare_fails(source, tmp_path, capsys)


def test_unknown_languages_and_splits_of_a_folder_name_what_it_has(tmp_path, capsys) -> None:
    source = make_beir(tmp_path / "collection")
    err = _prepare_fails(source, tmp_path, capsys, "--langs", "de,cs")
    assert "unknown language 'cs'" in err and "has folders for de, fr" in err
    err = _prepare_fails(source, tmp_path, capsys, "--splits", "dev,eval")
    assert "unknown split 'eval'" in err and "dev, test, train, val" in err


# --- a third-party dataset through the hook -------------------------------------------------------------------

class EchoDataset(Dataset):
    """A test dataset: n English queries, each relevant to its own German document."""

    name = "test-echo"
    description = "n identical-meaning pairs (test)"
    from clir_calib.params import Param

    params = (Param("n", 3, "pairs", type=int),)

    def build(self, request: DatasetRequest) -> DatasetContent:
        content = DatasetContent("generated", "echo", list(request.langs), list(request.splits))
        for lang in request.langs:
            for split in request.splits:
                task = TaskData("echo", lang, split)
                for i in range(self.config["n"]):
                    task.add_query(f"q{i}", f"number {i}", f"g{i}")
                    task.add_doc(f"d{i}", f"Nummer {i}", f"g{i}")
                    task.qrels.append((f"q{i}", f"d{i}", 1))
                content.tasks.append(task)
        return content


class DatasetPlugin:
    @hookimpl
    def register_datasets(self, register):
        register(EchoDataset)


@pytest.fixture
def dataset_plugin() -> Iterator[None]:
    plugins.load_plugins()
    plugin = DatasetPlugin()
    plugins.pm.register(plugin, name="dataset-plugin")
    yield
    plugins.pm.unregister(plugin)


def test_hook_register_datasets(dataset_plugin, tmp_path) -> None:
    assert {"multi30k", "folder", "test-echo"} <= set(plugins.DATASETS.names())
    summary = prepare_data(tmp_path / "p", dataset="test-echo", params={"n": 4}, langs=["de"], splits=["test"])
    assert [(t.task, t.queries) for t in summary.tasks] == [("echo", 4)]
    assert load_task(tmp_path / "p", "echo", "de", "test").qrels["q2"] == {"d2": 1}
    listing = runner.invoke(app, ["plugins", "--json"])
    assert listing.exit_code == 0 and "test-echo" in listing.output
    with pytest.raises(ConfigError, match=r"test-echo: unknown parameter\(s\) size; valid: n"):
        prepare_data(tmp_path / "q", dataset="test-echo", params={"size": 4}, langs=["de"], splits=["test"])
