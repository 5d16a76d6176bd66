"""Every bad-input path of prepare: one-line error naming the fix, exit code 2, no output folder."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from clir_calib.cli import app
from clir_calib.data import load_bitext, load_task, prepare_multi30k
from clir_calib.errors import ClirCalibError, ConfigError, DataError


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real console entry (``ClirTyper.__call__``, which turns errors into exit code 2)."""
    with pytest.raises(SystemExit) as exited:
        app(args, prog_name="clir-calib")
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


@pytest.fixture
def source(fake_multi30k: Path, tmp_path: Path) -> Path:
    """A private copy of the fake Multi30k that a test may break."""
    return Path(shutil.copytree(fake_multi30k, tmp_path / "multi30k"))


def rewrite_gz(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")[:-1]
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in edit(lines)).encode("utf-8")))


def expect_cli_failure(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    out = tmp_path / "out" / "prepared"
    code, _, err = run_cli(["prepare", "--source", str(source), "--out", str(out), *extra], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert not out.exists()
    leftovers = list(out.parent.iterdir()) if out.parent.exists() else []
    assert leftovers == []  # no temporary folder either
    return lines[0]


def test_misaligned_copy_names_both_files_and_counts(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_gz(source / "task1/raw/train.de.gz", lambda lines: lines[:10] + lines[11:])
    message = expect_cli_failure(source, tmp_path, capsys)
    assert f"{source}/task1/raw/train.en.gz has 64 lines" in message
    assert f"{source}/task1/raw/train.de.gz has 63" in message


def test_misaligned_description_file(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_gz(source / "task2/raw/test_2016.3.en.gz", lambda lines: lines + ["An extra line."])
    message = expect_cli_failure(source, tmp_path, capsys, "--langs", "fr")
    assert "test_2016_flickr.txt has 12 lines" in message and "test_2016.3.en.gz has 13" in message


def test_image_lists_of_task1_and_task2_must_agree(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = source / "task2/image_splits/val_images.txt"
    lines = images.read_text(encoding="utf-8").splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    images.write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = expect_cli_failure(source, tmp_path, capsys, "--splits", "val")
    assert "val.txt and" in message and "val_images.txt disagree at line 3" in message


def test_a_split_without_a_language_gets_the_others_and_a_note(source: Path, tmp_path: Path) -> None:
    """Splits and languages are found, not listed: val without fr prepares de and cs there, and says so."""
    (source / "task1/raw/val.fr.gz").unlink()
    summary = prepare_multi30k(tmp_path / "ok", source=source, langs=["de", "fr"], splits=["train", "val"])
    assert {(c.lang, c.split) for c in summary.bitext} == {("de", "train"), ("de", "val"), ("fr", "train")}
    assert {(t.lang, t.split) for t in summary.tasks} == {("de", "val")}
    assert any("val: the source has no fr captions" in note and "add task1/raw/val.fr.gz" in note
               for note in summary.notes)


def test_missing_image_split(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (source / "task1/image_splits/test_2016_flickr.txt").unlink()
    message = expect_cli_failure(source, tmp_path, capsys, "--splits", "test_2016_flickr")
    assert "missing file" in message and "test_2016_flickr.txt" in message


def test_some_task2_files_missing_is_an_error_none_is_translation_only(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (source / "task2/raw/test_2016.3.en.gz").unlink()
    message = expect_cli_failure(source, tmp_path, capsys, "--splits", "test_2016_flickr")
    assert "missing file" in message and "test_2016.3.en.gz" in message and "only some task-2 files" in message
    assert not (tmp_path / "prepared").exists()
    for path in (source / "task2/raw").glob("test_2016.*"):
        path.unlink()
    summary = prepare_multi30k(tmp_path / "ok", source=source, langs=["de"], splits=["test_2016_flickr"])
    assert [t.task for t in summary.tasks] == ["translation"]
    assert any("description task unavailable" in note for note in summary.notes)


def test_missing_source_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = expect_cli_failure(tmp_path / "nowhere", tmp_path, capsys)
    assert "Multi30k folder" in message and "--source" in message


def test_empty_line_names_file_and_line(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_gz(source / "task1/raw/val.cs.gz", lambda lines: lines[:4] + ["   "] + lines[5:])
    message = expect_cli_failure(source, tmp_path, capsys)
    assert f"{source}/task1/raw/val.cs.gz line 5 is empty" in message


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_gzip(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    path = source / "task1/raw/test_2016_flickr.de.gz"
    data = path.read_bytes()
    path.write_bytes(b"this is not gzip at all" if damage == "garbage" else data[: len(data) // 2])
    message = expect_cli_failure(source, tmp_path, capsys)
    assert f"{path} is not a readable gzip file" in message and "re-download" in message


def test_non_utf8_text(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (source / "task1/raw/val.fr.gz").write_bytes(gzip.compress(b"caf\xe9 au lait\n" * 16))
    message = expect_cli_failure(source, tmp_path, capsys)
    assert "val.fr.gz is not UTF-8" in message


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--langs", "de,xx", "unknown language 'xx'; choose from de, fr, cs (the document languages of the source"),
        ("--langs", "en", "unknown language 'en'"),
        ("--splits", "test_2018_flickr", "unknown split 'test_2018_flickr': the source has no "
         "task1/raw/test_2018_flickr.en.gz; splits found: train, val, test_2016_flickr, test_2017_flickr"),
    ],
)
def test_unknown_language_or_split(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, expected: str
) -> None:
    assert expected in expect_cli_failure(source, tmp_path, capsys, flag, value)


def test_a_language_the_chosen_splits_lack(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = expect_cli_failure(source, tmp_path, capsys, "--langs", "cs", "--splits", "test_2017_flickr")
    assert "unknown language 'cs'; choose from de, fr (the document languages of the source for test_2017_flickr)" \
        in message


def test_existing_output_needs_overwrite(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    code, _, err = run_cli(["prepare", "--source", str(source), "--out", str(out)], capsys)
    assert code == 2 and "already exists; pass --overwrite" in err
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_failed_overwrite_keeps_the_old_output(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    prepare_multi30k(out, source=source, langs=["de"], splits=["val"])
    (source / "task1/raw/val.de.gz").write_bytes(b"broken")
    with pytest.raises(DataError, match="not a readable gzip"):
        prepare_multi30k(out, source=source, langs=["de"], splits=["val"], overwrite=True)
    assert load_bitext(out, "de", "val").ids[0] == "val-0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi30k", "prepared"]


def test_source_and_url_together(source: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not both"):
        prepare_multi30k(tmp_path / "out", source=source, url=source.as_uri())


def test_no_source_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clir_calib.config

    monkeypatch.setattr(clir_calib.config, "default_multi30k_source", lambda: None)
    with pytest.raises(DataError, match="no Multi30k source: pass --source DIR or --url URL"):
        prepare_multi30k(tmp_path / "out")


def test_errors_are_clir_calib_errors() -> None:
    assert issubclass(DataError, ClirCalibError) and issubclass(ConfigError, ClirCalibError)


# --- reading a prepared folder ---------------------------------------------------------------


def test_store_errors_name_the_prepare_command(prepared_dir: Path, tmp_path: Path, source: Path) -> None:
    with pytest.raises(DataError, match=r"no prepared data at .*; run `clir-calib prepare --out"):
        load_task(tmp_path / "missing", "translation", "de", "val")
    with pytest.raises(DataError, match="description task is unavailable for de/test_2017_flickr"):
        load_task(prepared_dir, "description", "de", "test_2017_flickr")
    with pytest.raises(DataError, match=r"no cs documents for test_2017_flickr .*test_2017_flickr has de, fr"):
        load_task(prepared_dir, "translation", "cs", "test_2017_flickr")
    with pytest.raises(DataError, match="unknown split 'test_2099'; .* has tasks on val, test_2016_flickr"):
        load_task(prepared_dir, "translation", "de", "test_2099")
    with pytest.raises(DataError, match="unknown task 'caption'"):
        load_task(prepared_dir, "caption", "de", "val")
    with pytest.raises(DataError, match="unknown language 'it' for bitext: .* has no it bitext"):
        load_bitext(prepared_dir, "it", "train")
    with pytest.raises(DataError, match="no bitext split 'test_2016_flickr'"):
        load_bitext(prepared_dir, "de", "test_2016_flickr")
    partial = tmp_path / "partial"
    prepare_multi30k(partial, source=source, langs=["fr"], splits=["val"])
    with pytest.raises(DataError, match=r"has no de bitext \(prepared: fr\); run `clir-calib prepare") as missing:
        load_bitext(partial, "de", "val")
    _run_the_suggested_command(str(missing.value))  # the fix the error names works as given
    assert len(load_bitext(partial, "de", "val")) > 0
    prepare_multi30k(partial, source=source, langs=["fr"], splits=["val"], overwrite=True)
    with pytest.raises(
        DataError, match=r"has no train bitext for fr \(prepared: val\); run `clir-calib prepare"
    ) as missing_split:
        load_bitext(partial, "fr", "train")
    _run_the_suggested_command(str(missing_split.value))
    assert len(load_bitext(partial, "fr", "train")) > 0
    with pytest.raises(
        DataError, match=r"unknown split 'test_2016_flickr'; .*partial has tasks on val; run `clir-calib prepare --langs fr "
        "--splits test_2016_flickr"
    ):
        load_task(partial, "translation", "fr", "test_2016_flickr")


def _run_the_suggested_command(message: str) -> None:
    """Run the `clir-calib ...` command an error message suggests, as a user would paste it."""
    import shlex

    from typer.testing import CliRunner

    from clir_calib.cli import app

    command = message.split("`")[1]
    words = shlex.split(command)
    assert words[0] == "clir-calib", command
    result = CliRunner().invoke(app, words[1:])
    assert result.exit_code == 0, result.output
