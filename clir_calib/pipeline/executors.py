"""Who runs a study's stages: ``local`` (in this process, in order; the default), ``processes`` (worker processes
of this machine sharing its cores) or ``ray`` (each stage a Ray task once the stages it needs are done), registered
through ``register_executors`` like any plugin's executor.

A stage is a :class:`StageJob`: a function of the results of the jobs it needs, returning its
:class:`~clir_calib.pipeline.stages.StageResult`. The stage hashes, the ``stage.json`` markers and the folder locks
stay the only truth, so a study run by one executor and re-run by another reuses every finished stage. Stages
write into ``output_dir``, which every worker must see (see ``docs/executors.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clir_calib.hookspecs import hookimpl
from clir_calib.params import Declared, Param
from clir_calib.pipeline.stages import StageResult


@dataclass
class StageJob:
    """One stage of one run: ``call(results of needs)`` runs it (or finds it finished) and returns its result."""

    name: str  # e.g. "evaluate ot-n2000-s13"
    call: Callable[[list[StageResult]], StageResult]
    needs: list[int] = field(default_factory=list)  # indices of earlier jobs whose results ``call`` reads
    run: int = -1  # which of the study's runs (its MethodOutputs) the stage belongs to
    accelerated: bool = False  # distill and evaluate: a GPU when the cluster has one


def _run_job(call: Callable[[list[StageResult]], StageResult], cores: int, *needed: StageResult) -> StageResult:
    from clir_calib.shared_work import set_core_budget

    set_core_budget(cores)  # the CPUs the task asked for: no helper processes beyond them
    return call(list(needed))


class StudyExecutor(Declared):
    """Base class: ``run(jobs)`` returns every job's result, in job order; a job runs after the jobs it needs."""

    #: seconds a stage waits for another writer of its folder (a retried task may meet its own first attempt)
    lock_wait: float = 0.0

    def __init__(self, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)

    def spans_nodes(self) -> bool:
        """Whether stages may run on other machines (then ``output_dir``'s locks must reach them)."""
        return False

    def run(self, jobs: list[StageJob]) -> list[StageResult]:
        raise NotImplementedError


class LocalExecutor(StudyExecutor):
    """Every stage in this process, one after another in the study's order."""

    name = "local"
    description = "Every stage in this process, in the study's order (the default)."
    citation = ""

    def run(self, jobs: list[StageJob]) -> list[StageResult]:
        results: list[StageResult] = []
        for job in jobs:
            results.append(job.call([results[i] for i in job.needs]))
        return results


def _start_worker(threads: int) -> None:
    """A worker's thread pools (BLAS, OpenMP), sized before anything imports numpy or torch (spawned workers start
    empty); torch's own count is set per stage in :func:`_run_pickled`."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def _run_pickled(call: bytes, needed: list[StageResult], threads: int) -> StageResult:
    import cloudpickle
    import torch

    from clir_calib.shared_work import set_core_budget

    torch.set_num_threads(threads)  # this stage's share: every core for a model stage that runs alone on a CPU
    set_core_budget(threads)  # and no helper processes beyond it (see clir_calib.shared_work)
    return cloudpickle.loads(call)(needed)  # type: ignore[no-any-return]


class ProcessesExecutor(StudyExecutor):
    """Each stage in one of ``workers`` processes of this machine, once the stages it needs are done.

    Without CUDA, a stage that runs a model (distill, evaluate) runs alone, with a thread on every core, and the
    others (calibrate, report: single-threaded numpy and matplotlib) run side by side, one thread each: two model
    stages side by side on two cores were no faster than one after the other, and a model stage beside numpy work
    ran three times slower, while the estimators' work does not scale across threads at all. With CUDA, one model
    stage runs at a time on the accelerator and the others beside it, ``cores // workers`` threads each. Stages are
    pickled with cloudpickle into spawned workers (never forked from a process whose thread pools may be running).
    """

    name = "processes"
    description = "Each stage in one of N worker processes on this machine once the stages it needs are done."
    citation = ""
    params = (Param("workers", 2, "worker processes: how many stages without a model run side by side", type=int,
                    at_least=1, at_most=1024),)

    def run(self, jobs: list[StageJob]) -> list[StageResult]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

        # imported here, not at the top: these bring torch and scipy, which the CLI's start-up avoids
        import cloudpickle
        import torch

        from clir_calib.shared_work import usable_cores

        workers = max(1, min(int(self.config["workers"]), len(jobs)))
        cores, cuda = usable_cores(), torch.cuda.is_available()
        results: list[StageResult | None] = [None] * len(jobs)
        running: dict[Future[StageResult], int] = {}
        waiting = list(range(len(jobs)))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                                 initargs=(max(1, cores // workers),)) as pool:
            try:
                while waiting or running:
                    for index, threads in _startable(jobs, waiting, results, list(running.values()), cuda, cores,
                                                     workers):
                        waiting.remove(index)
                        needed = [result for i in jobs[index].needs if (result := results[i]) is not None]
                        running[pool.submit(_run_pickled, cloudpickle.dumps(jobs[index].call), needed, threads)] = index
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        results[running.pop(future)] = future.result()  # a stage's error is raised here, as is
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # running stages end (atomic: nothing half-written)
                raise
        return [result for result in results if result is not None]


def _startable(jobs: list[StageJob], waiting: list[int], results: list[StageResult | None], running: list[int],
               cuda: bool, cores: int, workers: int) -> list[tuple[int, int]]:
    """The waiting jobs to start now, with their threads (see :class:`ProcessesExecutor`); the caller starts them.

    A ready model stage goes first: on a CPU, stages without a model wait while one is ready, so that they end up
    side by side instead of one of them holding a model stage back."""
    ready = [i for i in waiting if all(results[n] is not None for n in jobs[i].needs)]
    busy = [jobs[i].accelerated for i in running]
    chosen: list[tuple[int, int]] = []
    if cuda:
        for index in ready:
            if jobs[index].accelerated and (any(busy) or any(jobs[i].accelerated for i, _ in chosen)):
                continue
            chosen.append((index, max(1, cores // workers)))
        return chosen
    models = [i for i in ready if jobs[i].accelerated]
    if models:
        return [] if busy else [(models[0], cores)]
    if any(busy):
        return []
    return [(index, 1) for index in ready[: max(0, workers - len(busy))]]
class RayExecutor(StudyExecutor):
    """Each stage a Ray task submitted once its inputs exist, with a GPU for distill and evaluate where the cluster
    has GPUs, else CPUs; a task whose worker dies is retried (stages are atomic and distillation resumes)."""

    name = "ray"
    lock_wait = 24 * 3600.0
    description = "Each stage a Ray task once the stages it needs are done (a local or an existing Ray cluster)."
    citation = "Moritz, P. et al. (2018). Ray: A Distributed Framework for Emerging AI Applications. OSDI 2018."
    params = (
        Param("address", None, "an existing cluster (ray://host:10001 or auto); empty: start a local one",
              type=str, optional=True),
        Param("num_cpus", 1.0, "CPUs each stage asks for", above=0),
        Param("max_retries", 2, "retries of a stage whose worker died", type=int, at_least=0, at_most=100),
    )

    def spans_nodes(self) -> bool:
        return self.config["address"] is not None  # a local cluster is this machine only

    def run(self, jobs: list[StageJob]) -> list[StageResult]:
        import ray

        from clir_calib.errors import ConfigError

        started = False
        if not ray.is_initialized():
            try:
                ray.init(address=self.config["address"], log_to_driver=True)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise ConfigError(f"cannot reach the Ray cluster {self.config['address'] or '(local)'}: {error}; "
                                  "start it (ray start --head) or fix executor_params.address") from None
            started = True
        try:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
            refs: list[Any] = []
            for job in jobs:
                task = ray.remote(_run_job).options(
                    name=job.name, num_cpus=self.config["num_cpus"], num_gpus=gpus if job.accelerated else 0,
                    max_retries=self.config["max_retries"])
                refs.append(task.remote(job.call, max(1, int(self.config["num_cpus"])), *[refs[i] for i in job.needs]))
            try:
                return list(ray.get(refs))
            except ray.exceptions.RayTaskError as error:  # the stage's own error (a one-line ClirCalibError...)
                cause = getattr(error, "cause", None)
                raise (cause if isinstance(cause, BaseException) else error) from None
        finally:
            if started:
                ray.shutdown()


@hookimpl
def register_executors(register: Callable[[type[Any]], None]) -> None:
    register(LocalExecutor)
    register(ProcessesExecutor)
    register(RayExecutor)
