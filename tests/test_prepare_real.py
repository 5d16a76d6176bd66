"""The "Done when" numbers of prepare on the real Multi30k (skipped when the folder is absent)."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from clir_calib.config import default_multi30k_source
from clir_calib.data import load_bitext, load_task, prepare_multi30k

MULTI30K = default_multi30k_source()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multi30k,
    pytest.mark.skipif(
        MULTI30K is None or not (MULTI30K / "task1").is_dir(), reason="Multi30k folder not found"
    ),
]


def test_real_multi30k_counts_and_qrels(tmp_path: Path) -> None:
    assert MULTI30K is not None
    out = tmp_path / "prepared"
    started = time.perf_counter()
    summary = prepare_multi30k(out, source=MULTI30K)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"prepare took {elapsed:.1f} s"
    for lang in ("de", "fr", "cs"):
        bitext = load_bitext(out, lang, "train")
        assert len(bitext) == 29_000 and len(set(bitext.ids)) == 29_000
        assert len(load_bitext(out, lang, "val")) == 1_014
        translation = load_task(out, "translation", lang, "test_2016_flickr")
        assert len(translation.queries) == 1_000 and len(translation.corpus) == 1_000
        assert all(len(rel) == 1 for rel in translation.qrels.values()) and len(translation.qrels) == 1_000
        assert translation.qrels["test_2016_flickr-17"] == {f"{lang}-test_2016_flickr-17": 1}

        description = load_task(out, "description", lang, "test_2016_flickr")
        assert len(description.queries) == 5_000
        with open(out / f"tasks/description/{lang}/test_2016_flickr/queries.tsv", encoding="utf-8") as handle:
            assert sum(1 for _ in handle) == 5_000
        for qid, relevant in description.qrels.items():
            image = qid.split("-")[1]  # test_2016_flickr-{i}-en{k}
            same_image = {f"{lang}-test_2016_flickr-{image}"}
            if lang == "de":
                same_image |= {f"de-test_2016_flickr-{image}-d{k}" for k in range(1, 6)}
            assert set(relevant) == same_image
    assert any(
        "test_2017_flickr" in note and "description task unavailable" in note for note in summary.notes
    )
    english = gzip.decompress((MULTI30K / "task2/raw/test_2016.4.en.gz").read_bytes()).decode().split("\n")
    assert load_task(out, "description", "fr", "test_2016_flickr").queries["test_2016_flickr-321-en4"] == (
        english[321].strip()
    )
    # the TREC files agree with the saved dataset
    task = load_task(out, "description", "de", "test_2016_flickr")
    folder = out / "tasks/description/de/test_2016_flickr"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {row["_id"]: row["text"] for row in corpus} == task.corpus
    qrels = [line.split(" ") for line in (folder / "qrels.txt").read_text(encoding="utf-8").splitlines()]
    assert len(qrels) == sum(len(rel) for rel in task.qrels.values()) == 30_000


def test_real_misaligned_copy_exits_2_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clir_calib.cli import app

    assert MULTI30K is not None
    copy = Path(shutil.copytree(MULTI30K, tmp_path / "multi30k"))
    path = copy / "task1/raw/train.fr.gz"
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    path.write_bytes(gzip.compress("\n".join(lines[:500] + lines[501:]).encode("utf-8")))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        app(["prepare", "--source", str(copy), "--out", str(out)], prog_name="clir-calib")
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2
    assert err.count("\n") == 0
    assert f"{copy}/task1/raw/train.en.gz has 29000 lines but {path} has 28999" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi30k"]
