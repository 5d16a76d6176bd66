"""prepare_multi30k on the fake Multi30k: counts, IDs, qrels, TREC files vs saved datasets, store API."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import datasets
import pytest
import yaml

from clir_calib.data import available_tasks, load_bitext, load_manifest, load_task, prepare_multi30k

N = {"train": 64, "val": 16, "test_2016_flickr": 12, "test_2017_flickr": 12}  # fixtures_data defaults
TASK2 = {"val": "val", "test_2016_flickr": "test_2016"}


def raw_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def test_bitext_counts_and_alignment(prepared_dir: Path, fake_multi30k: Path) -> None:
    for lang in ("de", "fr", "cs"):
        for split in ("train", "val"):
            bitext = load_bitext(prepared_dir, lang, split)
            assert len(bitext) == N[split]
            assert bitext.ids == [f"{split}-{i}" for i in range(N[split])]
            assert bitext.en == raw_lines(fake_multi30k / f"task1/raw/{split}.en.gz")
            assert bitext.xx == raw_lines(fake_multi30k / f"task1/raw/{split}.{lang}.gz")
    first = load_bitext(prepared_dir, "de", "train", max_pairs=5)
    assert len(first) == 5 and first.ids == [f"train-{i}" for i in range(5)]


def test_translation_tasks(prepared_dir: Path, fake_multi30k: Path) -> None:
    for split in ("val", "test_2016_flickr", "test_2017_flickr"):
        english = raw_lines(fake_multi30k / f"task1/raw/{split}.en.gz")
        for lang in ("de", "fr", "cs") if split != "test_2017_flickr" else ("de", "fr"):
            task = load_task(prepared_dir, "translation", lang, split)
            target = raw_lines(fake_multi30k / f"task1/raw/{split}.{lang}.gz")
            assert list(task.queries) == [f"{split}-{i}" for i in range(N[split])]
            assert list(task.queries.values()) == english
            assert list(task.corpus) == [f"{lang}-{split}-{i}" for i in range(N[split])]
            assert list(task.corpus.values()) == target
            assert task.qrels == {f"{split}-{i}": {f"{lang}-{split}-{i}": 1} for i in range(N[split])}


@pytest.mark.parametrize("lang", ["de", "fr", "cs"])
@pytest.mark.parametrize("split", ["val", "test_2016_flickr"])
def test_description_tasks(prepared_dir: Path, fake_multi30k: Path, lang: str, split: str) -> None:
    task = load_task(prepared_dir, "description", lang, split)
    n = N[split]
    english = [raw_lines(fake_multi30k / f"task2/raw/{TASK2[split]}.{k}.en.gz") for k in range(1, 6)]
    captions = raw_lines(fake_multi30k / f"task1/raw/{split}.{lang}.gz")
    assert len(task.queries) == 5 * n
    assert len(task.corpus) == (6 * n if lang == "de" else n)
    for i in range(n):
        relevant = {f"{lang}-{split}-{i}"}
        assert task.corpus[f"{lang}-{split}-{i}"] == captions[i]
        if lang == "de":
            german = [raw_lines(fake_multi30k / f"task2/raw/{TASK2[split]}.{k}.de.gz") for k in range(1, 6)]
            for k in range(1, 6):
                relevant.add(f"de-{split}-{i}-d{k}")
                assert task.corpus[f"de-{split}-{i}-d{k}"] == german[k - 1][i]
        for k in range(1, 6):
            qid = f"{split}-{i}-en{k}"
            assert task.queries[qid] == english[k - 1][i]
            assert task.qrels[qid] == dict.fromkeys(relevant, 1)


def test_relevant_documents_share_the_query_image(prepared_dir: Path) -> None:
    table = datasets.load_from_disk(str(prepared_dir / "tasks/description/de/val/dataset"))
    query_image = dict(zip(table["queries"]["id"], table["queries"]["image"], strict=True))
    doc_image = dict(zip(table["corpus"]["id"], table["corpus"]["image"], strict=True))
    docs_of_image: dict[str, set[str]] = {}
    for docid, image in doc_image.items():
        docs_of_image.setdefault(image, set()).add(docid)
    qrels = load_task(prepared_dir, "description", "de", "val").qrels
    assert len(docs_of_image) == N["val"]
    for qid, image in query_image.items():
        assert set(qrels[qid]) == docs_of_image[image]


def read_trec(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    queries = {}
    for line in (folder / "queries.tsv").read_text(encoding="utf-8").splitlines():
        qid, text = line.split("\t")
        queries[qid] = text
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert set(record) == {"_id", "text"}
        corpus[record["_id"]] = record["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels.txt").read_text(encoding="utf-8").splitlines():
        qid, zero, docid, rel = line.split(" ")
        assert zero == "0"
        qrels.setdefault(qid, {})[docid] = int(rel)
    return queries, corpus, qrels


def test_trec_files_agree_with_saved_datasets(prepared_dir: Path) -> None:
    found = available_tasks(prepared_dir)
    assert len(found) == 14  # translation: 3 langs x 2 splits + de, fr on test_2017; description: 3 x 2
    assert ("description", "de", "test_2017_flickr") not in found
    assert ("translation", "cs", "test_2017_flickr") not in found
    for task_name, lang, split in found:
        task = load_task(prepared_dir, task_name, lang, split)
        queries, corpus, qrels = read_trec(prepared_dir / "tasks" / task_name / lang / split)
        assert queries == task.queries
        assert corpus == task.corpus
        assert qrels == task.qrels
        assert set(qrels) == set(queries)
        assert all(docid in corpus for rel in qrels.values() for docid in rel)


def test_manifest_and_config(prepared_dir: Path, fake_multi30k: Path) -> None:
    import hashlib

    manifest = load_manifest(prepared_dir)
    assert manifest["source"] == {"kind": "local", "location": str(fake_multi30k.resolve())}
    assert manifest["bitext"]["cs"] == {"train": N["train"], "val": N["val"]}
    inputs = manifest["inputs"]
    assert "task2/raw/val.3.de.gz" in inputs and "task2/raw/train.1.en.gz" not in inputs  # only what is used
    for relative, digest in inputs.items():
        assert hashlib.sha256((fake_multi30k / relative).read_bytes()).hexdigest() == digest
    assert any(
        "description task unavailable" in note and "test_2017_flickr" in note for note in manifest["notes"]
    )
    by_key = {(t["task"], t["lang"], t["split"]): t for t in manifest["tasks"]}
    assert by_key[("description", "de", "val")] == {
        "task": "description",
        "lang": "de",
        "split": "val",
        "queries": 80,
        "documents": 96,
        "qrels": 480,
    }
    config = yaml.safe_load((prepared_dir / "config.yaml").read_text(encoding="utf-8"))
    assert config["data"]["source"] == str(fake_multi30k.resolve())
    assert config["data"]["langs"] == ["de", "fr", "cs"]


def test_restricting_languages_and_splits(fake_multi30k: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    summary = prepare_multi30k(
        out, source=fake_multi30k, langs=["cs", "fr"], splits=["test_2017_flickr", "val"]
    )
    assert summary.langs == ["fr", "cs"] and summary.splits == ["val", "test_2017_flickr"]
    assert [(c.lang, c.split, c.pairs) for c in summary.bitext] == [("fr", "val", 16), ("cs", "val", 16)]
    assert sorted(available_tasks(out)) == sorted(
        [(t, lang, "val") for t in ("translation", "description") for lang in ("fr", "cs")]
        + [("translation", "fr", "test_2017_flickr")]
    )
    assert any("no cs captions" in note for note in summary.notes)
    assert not (out / "bitext" / "de").exists()
    assert not (out / "bitext" / "fr" / "train").exists()


def test_overwrite_replaces_existing_output(fake_multi30k: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    prepare_multi30k(out, source=fake_multi30k, langs=["de"], splits=["val"])
    prepare_multi30k(out, source=fake_multi30k, langs=["fr"], splits=["val"], overwrite=True)
    assert available_tasks(out) == [("translation", "fr", "val"), ("description", "fr", "val")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prep"]  # no temporary or old folder left


def test_plain_text_files_are_accepted(fake_multi30k: Path, tmp_path: Path) -> None:
    import shutil

    source = tmp_path / "plain"
    shutil.copytree(fake_multi30k, source)
    for gz in source.rglob("*.gz"):
        gz.with_suffix("").write_text(gzip.decompress(gz.read_bytes()).decode("utf-8"), encoding="utf-8")
        gz.unlink()
    prepare_multi30k(tmp_path / "out", source=source, langs=["de"], splits=["val"])
    expected = raw_lines(fake_multi30k / "task1/raw/val.de.gz")
    assert list(load_task(tmp_path / "out", "translation", "de", "val").corpus.values()) == expected


def test_tabs_and_surrounding_spaces_are_normalised(fake_multi30k: Path, tmp_path: Path) -> None:
    import shutil

    source = tmp_path / "data"
    shutil.copytree(fake_multi30k, source)
    path = source / "task1/raw/val.de.gz"
    lines = raw_lines(path)
    lines[3] = "  Ein Mann\tläuft im Park.  "
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode("utf-8")))
    prepare_multi30k(tmp_path / "out", source=source, langs=["de"], splits=["val"])
    assert load_bitext(tmp_path / "out", "de", "val").xx[3] == "Ein Mann läuft im Park."
    corpus = (tmp_path / "out/tasks/translation/de/val/corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(corpus[3]) == {"_id": "de-val-3", "text": "Ein Mann läuft im Park."}


def test_config_supplies_unset_arguments(fake_multi30k: Path, tmp_path: Path) -> None:
    from clir_calib.config import load_config

    config = load_config(overrides=[f"data.source={fake_multi30k}", "data.langs=[fr]", "data.splits=[val]"])
    summary = prepare_multi30k(tmp_path / "out", config=config)
    assert summary.source == str(fake_multi30k.resolve())
    assert [(c.lang, c.split) for c in summary.bitext] == [("fr", "val")]
    assert config.data.prepared == "runs/data/multi30k"  # the caller's config is not modified


@pytest.mark.parametrize("task", ["translation", "description"])
def test_max_images_keeps_whole_images(prepared_dir: Path, task: str) -> None:
    from clir_calib.data import load_task

    full = load_task(prepared_dir, task, "de", "val")
    small = load_task(prepared_dir, task, "de", "val", max_images=3)
    assert 0 < len(small.queries) < len(full.queries)
    assert set(small.queries) <= set(full.queries) and set(small.corpus) <= set(full.corpus)
    for qid in small.queries:
        assert small.qrels[qid] == full.qrels[qid]  # every kept query keeps all its relevant documents
    assert len(small.queries) == (3 if task == "translation" else 15)
