"""Study executors: the hook, the local order, and the tiny two-seed study on a local Ray cluster (a killed worker's
stage retried, a failed stage re-run) giving the local executor's tables."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clir_calib import plugins
from clir_calib.config import load_config
from clir_calib.errors import ClirCalibError
from clir_calib.hookspecs import hookimpl
from clir_calib.pipeline.executors import StudyExecutor
from clir_calib.shared_work import usable_cores
from tests.test_study import _study_config

PLUGIN = textwrap.dedent('''
    """A baseline that leaves the documents as they are, but dies (or fails) once when told to: the faults a
    distributed study must survive. Registered in every Ray worker by ``setup`` (worker_process_setup_hook)."""
    import os
    from pathlib import Path

    from clir_calib.baselines import DocumentBaseline
    from clir_calib.errors import DataError
    from clir_calib.hookspecs import hookimpl


    class FaultyOnce(DocumentBaseline):
        name = "faulty-once"
        description = "the documents unchanged; dies or fails once on request (tests)"
        citation = ""

        def transform_corpus(self, doc_ids, texts, context):
            for fault in ("kill", "fail"):
                marker = Path(os.environ["CLIR_CALIB_TEST_MARKERS"]) / fault
                if os.environ.get(f"CLIR_CALIB_TEST_{fault.upper()}") and not marker.exists():
                    marker.touch()
                    if fault == "kill":
                        os._exit(1)
                    raise DataError("a planned failure of one stage")
            return list(texts)


    class Plugin:
        @hookimpl
        def register_baselines(self, register):
            register(FaultyOnce)


    def setup():
        import torch

        from clir_calib import plugins

        torch.set_num_threads(1)
        if plugins.pm.get_plugin("faulty-once") is None:
            plugins.pm.register(Plugin(), name="faulty-once")
''')


@pytest.fixture
def faulty_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "faulty_plugin.py").write_text(PLUGIN, encoding="utf-8")
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("CLIR_CALIB_TEST_MARKERS", str(markers))
    import faulty_plugin

    faulty_plugin.setup()
    yield folder
    plugins.pm.unregister(name="faulty-once")
    sys.modules.pop("faulty_plugin", None)


def _config(tmp_path: Path, fake_multi30k: Path, model: Path, out: str, **extra: Any) -> Path:
    path = _study_config(tmp_path, fake_multi30k, model)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(seeds=[3, 4], output_dir=str(tmp_path / out), **extra)
    data["methods"].append({"name": "faulty", "baseline": "faulty-once"})
    data["calibrate"].update(calibrators=["temperature", "isotonic"])
    written = tmp_path / f"{out}.yaml"
    written.write_text(yaml.safe_dump(data), encoding="utf-8")
    return written


def _tables(study: Path) -> dict[str, Any]:
    return json.loads(next((study / "report").glob("report-*/tables.json")).read_text(encoding="utf-8"))


def _stage_folders(study: Path) -> list[str]:
    return sorted(str(p.relative_to(study)) for p in study.glob("*/*/stage.json"))


class RecordingExecutor(StudyExecutor):
    """A plugin's executor: the local order, recording each job's name."""

    name = "recording"
    description = "runs jobs in order and records their names (tests)"
    citation = ""
    seen: list[str] = []

    def run(self, jobs: list[Any]) -> list[Any]:
        results: list[Any] = []
        for job in jobs:
            RecordingExecutor.seen.append(job.name)
            results.append(job.call([results[i] for i in job.needs]))
        return results


def test_hook_register_executors(tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path,
                                 faulty_plugin: Path) -> None:
    from clir_calib.pipeline.study import run_study

    class Plugin:
        @hookimpl
        def register_executors(self, register: Any) -> None:
            register(RecordingExecutor)

    plugins.pm.register(Plugin(), name="recording-executor")
    try:
        assert {"local", "ray", "recording"} <= set(plugins.EXECUTORS.names())
        cfg = load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "study", executor="recording"))
        cfg.seeds = [3]
        result = run_study(cfg)
        assert RecordingExecutor.seen[:2] == ["distill mse", "distill ot"] and "calibrate faulty" in RecordingExecutor.seen
        assert result.report_html.is_file()
        with pytest.raises(ClirCalibError, match="unknown executor 'nope'"):
            run_study(load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "other", executor="nope")))
    finally:
        plugins.pm.unregister(name="recording-executor")


@pytest.mark.slow
def test_the_tiny_study_on_a_local_ray_cluster_matches_the_local_executor(
    tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path, faulty_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray  # the [ray] extra, in dev

    from clir_calib.pipeline.study import run_study

    local = load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "local"))
    run_study(local)
    expected = _tables(tmp_path / "local")

    monkeypatch.setenv("CLIR_CALIB_TEST_KILL", "1")  # the faulty baseline's stage kills its worker once: retried
    monkeypatch.setenv("CLIR_CALIB_TEST_FAIL", "1")  # after that it fails once: the run stops, a re-run finishes
    env = {k: os.environ[k] for k in ("CLIR_CALIB_TEST_MARKERS", "CLIR_CALIB_TEST_KILL", "CLIR_CALIB_TEST_FAIL")}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={
        "env_vars": {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(faulty_plugin), *sys.path])},
        "worker_process_setup_hook": "faulty_plugin.setup"})
    try:
        distributed = load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "ray", executor="ray"))
        with pytest.raises(ClirCalibError, match="a planned failure of one stage"):
            run_study(distributed)
        assert (Path(env["CLIR_CALIB_TEST_MARKERS"]) / "kill").exists()  # the worker died once and was retried
        run_study(distributed)
    finally:
        ray.shutdown()
    assert _tables(tmp_path / "ray") == expected
    assert _stage_folders(tmp_path / "ray") == _stage_folders(tmp_path / "local")
    again = run_study(load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "ray")))  # local, same folder
    assert all(stage.reused for stage in again.stages)


def _raises_in_a_worker(needed: list[Any]) -> Any:
    from clir_calib.errors import DataError

    raise DataError("a stage's own one-line error")


def test_processes_executor_runs_jobs_after_their_needs_and_raises_a_stages_error() -> None:
    """Jobs (closures, as the study makes them) run in spawned workers once what they need is done; a stage's
    error reaches the caller as itself."""
    from clir_calib.errors import DataError
    from clir_calib.pipeline.executors import ProcessesExecutor, StageJob
    from clir_calib.pipeline.stages import StageResult

    offset = 10

    def stage(name: str) -> Any:
        def call(needed: list[StageResult]) -> StageResult:
            return StageResult("s", name, str(os.getpid()), Path(name), False, float(offset + len(needed)),
                               {"needed": [r.label for r in needed]})
        return call

    jobs = [StageJob("a", stage("a")), StageJob("b", stage("b")), StageJob("c", stage("c"), needs=[0, 1])]
    results = ProcessesExecutor(workers=2).run(jobs)
    assert [r.label for r in results] == ["a", "b", "c"] and results[2].info["needed"] == ["a", "b"]
    assert results[2].seconds == 12.0 and all(r.key != str(os.getpid()) for r in results)  # in other processes
    with pytest.raises(DataError, match="a stage's own one-line error"):
        ProcessesExecutor(workers=2).run([StageJob("a", stage("a")), StageJob("bad", _raises_in_a_worker, needs=[0])])


def test_processes_run_a_model_stage_alone_on_every_core_and_the_others_side_by_side() -> None:
    """Without CUDA: a ready model stage (distill, evaluate) starts only when nothing runs, with every core, and
    holds back the stages without a model, which then run side by side, one thread each, up to ``workers``. With
    CUDA: one model stage at a time, the others beside it."""
    from clir_calib.pipeline.executors import StageJob, _startable
    from clir_calib.pipeline.stages import StageResult

    def job(accelerated: bool, needs: list[int] | None = None) -> StageJob:
        return StageJob("j", lambda needed: None, needs=needs or [], accelerated=accelerated)  # type: ignore[arg-type,return-value]

    done = StageResult("s", "x", "k", Path("x"), False, 0.0, {})
    # 0: done; 1, 2: models needing 0; 3, 4, 5: numpy stages needing 0
    jobs = [job(False), job(True, [0]), job(True, [0]), job(False, [0]), job(False, [0]), job(False, [0])]
    results: list[StageResult | None] = [done, None, None, None, None, None]
    waiting = [1, 2, 3, 4, 5]
    assert _startable(jobs, waiting, results, [], False, 4, 2) == [(1, 4)]  # a model first, alone, every core
    assert _startable(jobs, waiting, results, [1], False, 4, 2) == []  # nothing beside it, not even numpy work
    assert _startable(jobs, [3, 4, 5], results, [], False, 4, 2) == [(3, 1), (4, 1)]  # side by side, 1 thread
    assert _startable(jobs, [4, 5], results, [3], False, 4, 2) == [(4, 1)]  # up to `workers` at once
    assert _startable(jobs, [2, 4, 5], results, [3], False, 4, 2) == []  # a ready model waits for them to end
    assert _startable(jobs, waiting, results, [], True, 4, 2) == [(1, 2), (3, 2), (4, 2), (5, 2)]  # CUDA
    assert _startable(jobs, [2, 4], results, [1], True, 4, 2) == [(4, 2)]
    results[0] = None
    assert _startable(jobs, waiting, results, [], False, 4, 2) == []  # nothing is ready before what it needs


def test_a_stage_gets_the_cores_its_executor_gives_it() -> None:
    """A stage the processes executor runs with one thread, or a Ray task that asked for N CPUs, starts no helper
    processes beyond them (clir_calib.shared_work.core_budget); a plain process may use every core."""
    import cloudpickle
    import torch

    from clir_calib.pipeline.executors import _run_job, _run_pickled
    from clir_calib.shared_work import core_budget, set_core_budget

    def budget(needed: list[Any]) -> Any:
        return core_budget()

    threads = torch.get_num_threads()
    try:
        assert _run_pickled(cloudpickle.dumps(budget), [], 1) == 1
        assert _run_job(budget, 3) == 3
    finally:
        set_core_budget(None)
        torch.set_num_threads(threads)  # _run_pickled sets the stage's threads
    assert core_budget() == usable_cores()


@pytest.mark.slow
def test_the_tiny_study_in_worker_processes_matches_the_local_executor(tmp_path: Path, fake_multi30k: Path,
                                                                        tiny_model_dir: Path) -> None:
    """Two worker processes give the local executor's tables and stage folders, and a local re-run reuses every
    stage they wrote. A model stage runs alone in a worker with a thread on every core, so the local run has as many:
    torch sums in another order with another thread count (float noise in the last digits)."""
    import torch

    from clir_calib.pipeline.study import run_study

    def config(out: str, **extra: Any) -> Any:
        path = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data.update(seeds=[3, 4], output_dir=str(tmp_path / out), **extra)
        written = tmp_path / f"{out}.yaml"
        written.write_text(yaml.safe_dump(data), encoding="utf-8")
        return load_config(written)

    threads = torch.get_num_threads()
    torch.set_num_threads(usable_cores())
    try:
        run_study(config("local"))
    finally:
        torch.set_num_threads(threads)
    run_study(config("workers", executor="processes", executor_params={"workers": 2}))
    assert _tables(tmp_path / "workers") == _tables(tmp_path / "local")
    assert _stage_folders(tmp_path / "workers") == _stage_folders(tmp_path / "local")
    assert all(stage.reused for stage in run_study(config("workers")).stages)


MOUNTS = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /shared nfs4 rw,relatime,vers=4.2,hard,proto=tcp,sec=sys 0 0
server:/scratch /shared/no\\040lock nfs rw,relatime,vers=3,nolock,proto=tcp 0 0
server:/other /mnt/local-locks nfs4 rw,vers=4.1,local_lock=flock 0 0
"""


def test_nfs_mounts_whose_locks_stay_on_one_node_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib import locking

    (tmp_path / "mounts").write_text(MOUNTS, encoding="utf-8")
    monkeypatch.setattr(locking, "MOUNTS", tmp_path / "mounts")
    assert locking.cross_node_lock_problem("/shared/study") is None  # NFSv4: the server arbitrates flock
    assert locking.cross_node_lock_problem("/home/me/study") is None  # a local disk: the lock is what it gives
    problem = locking.cross_node_lock_problem("/shared/no lock/study")  # the longest mount point wins
    assert problem is not None and "/shared/no lock with nolock" in problem and "remount" in problem
    assert "local_lock=flock" in (locking.cross_node_lock_problem("/mnt/local-locks/x") or "")
    monkeypatch.setattr(locking, "MOUNTS", tmp_path / "absent")
    assert locking.cross_node_lock_problem("/shared/no lock/study") is None  # no mount table: nothing to check


def test_a_study_across_nodes_refuses_an_output_folder_whose_locks_stay_on_one_node(
    tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, faulty_plugin: Path,
) -> None:
    from clir_calib import locking
    from clir_calib.pipeline.study import run_study

    (tmp_path / "mounts").write_text(f"server:/x {tmp_path} nfs rw,vers=3,nolock 0 0\n", encoding="utf-8")
    monkeypatch.setattr(locking, "MOUNTS", tmp_path / "mounts")
    across = load_config(_config(tmp_path, fake_multi30k, tiny_model_dir, "study", executor="ray",
                                 executor_params={"address": "ray://head:10001"}))
    with pytest.raises(ClirCalibError, match="with nolock, where folder locks stay on each node"):
        run_study(across)
    assert not (tmp_path / "study").exists()  # refused before anything was written
