import pytest

from clir_calib.errors import ConfigError
from clir_calib.pipeline.stages import StageRunner


def test_finished_stage_is_reused_and_force_redoes_it(tmp_path):
    calls = []

    def work(folder):
        calls.append(folder)
        (folder / "out.txt").write_text("done")
        return {"n": len(calls)}

    runner = StageRunner(tmp_path, ("prepare", "distill"))
    first = runner.run("distill", "ot+mse", {"lr": 1}, work)
    again = StageRunner(tmp_path, ("prepare", "distill")).run("distill", "ot+mse", {"lr": 1}, work)
    assert (first.reused, again.reused) == (False, True)
    assert again.folder == first.folder and again.info == {"n": 1}
    assert first.folder.name.startswith("ot_mse-")
    other = StageRunner(tmp_path, ("prepare", "distill")).run("distill", "ot+mse", {"lr": 2}, work)
    assert other.folder != first.folder and not other.reused
    forced = StageRunner(tmp_path, ("prepare", "distill"), {"distill"}).run("distill", "ot+mse", {"lr": 1}, work)
    assert not forced.reused and len(calls) == 3


def test_interrupted_stage_continues_in_the_same_folder(tmp_path):
    def crash(folder):
        (folder / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    runner = StageRunner(tmp_path, ("distill",))
    with pytest.raises(KeyboardInterrupt):
        runner.run("distill", "ot", {"x": 1}, crash)
    seen = {}

    def resume(folder):
        seen["checkpoint"] = (folder / "checkpoint").read_text()
        return None

    result = runner.run("distill", "ot", {"x": 1}, resume)
    assert seen["checkpoint"] == "step 5" and not result.reused


def test_unknown_force_stage_is_named():
    with pytest.raises(ConfigError, match="unknown stage 'distil'"):
        StageRunner(__import__("pathlib").Path("."), ("distill",), {"distil"})
