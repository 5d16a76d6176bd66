"""Who runs a study's stages: ``local`` (in this process, in order; the default) or ``ray`` (each stage a Ray task
once the stages it needs are done), registered through ``register_executors`` like any plugin's executor.

A stage is a :class:`StageJob`: a function of the results of the jobs it needs, returning its
:class:`~clir_calib.pipeline.stages.StageResult`. The stage hashes, the ``stage.json`` markers and the folder locks
stay the only truth, so a study run by one executor and re-run by another reuses every finished stage. Stages
write into ``output_dir``, which every worker must see (see ``docs/executors.md``).
"""

from __future__ import annotations

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


def _run_job(call: Callable[[list[StageResult]], StageResult], *needed: StageResult) -> StageResult:
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
                refs.append(task.remote(job.call, *[refs[i] for i in job.needs]))
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
    register(RayExecutor)
