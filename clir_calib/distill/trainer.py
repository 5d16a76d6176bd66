"""The distillation loop: frozen teacher (en), trained student (xx), weighted alignment losses.

One process on CPU by default; CUDA with bf16 autocast and several GPUs through HF Accelerate
(``accelerate launch -m clir_calib distill ...``). Checkpoints hold the trainable weights,
optimizer/scheduler/RNG state and the data position; the data order is a function of the seed
and epoch, so ``resume=True`` ends with the same weights as an uninterrupted run (one process).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors

from clir_calib.atomic import atomic_file, write_json, write_text
from clir_calib.config import ExperimentConfig, config_hash, save_config, to_dict
from clir_calib.distill.card import model_card
from clir_calib.distill.checkpoint import (
    list_checkpoints,
)
from clir_calib.distill.logbook import LOG_FILE
from clir_calib.distill.loop import TrainingLoop, unwrapped
from clir_calib.distill.selection import BestSnapshot
from clir_calib.distill.setup import (
    build_objective,
    check_distill_config,
    check_resume_config,
    load_distill_data,
    run_state,
)
from clir_calib.distill.student import PROJECTION_FILE, Student
from clir_calib.distill.teacher_store import PRIVATE_FOLDER
from clir_calib.distill.trackers import PROJECT, hyperparameters, tracker_dir
from clir_calib.locking import locks_output
from clir_calib.models.device import resolve_device
from clir_calib.models.encoder import Encoder
from clir_calib.models.temperature import listwise_temperature


@dataclass
class DistillResult:
    """What a finished run reports (also written to ``RUN/result.json``)."""

    run_dir: str
    lang: str
    teacher: str
    student_init: str
    losses: list[dict[str, Any]]
    steps: int
    epochs: int
    train_pairs: int
    val_pairs: int
    val_accuracy_before: float
    val_accuracy_after: float  # of the weights the run keeps (the selected step)
    val_accuracy_last: float  # at the last step
    select: str  # best | last
    selected_step: int
    projection: bool
    resumed_from_step: int | None
    seconds: float
    config_hash: str
    stop_reason: str = ""  # early stop, max_steps or the configured epochs (distill.stopping)
    trained_layers: str = "all layers"  # distill.train_top_layers: which layers trained (Student.trained_layers)


def make_accelerator(cfg: ExperimentConfig, out: Path | None = None) -> Any:
    from accelerate import Accelerator

    device = resolve_device(cfg.device)
    precision = cfg.distill.mixed_precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if device.type != "cuda" and precision != "no":
        precision = "no"  # autocast on CPU is slower than fp32 here and not what "auto" promises
    trackers: dict[str, Any] = {}
    if cfg.distill.log_with is not None and out is not None:
        trackers = {"log_with": cfg.distill.log_with, "project_dir": str(tracker_dir(out))}
    return Accelerator(cpu=device.type == "cpu", mixed_precision=precision, **trackers)


@locks_output("out")
def distill(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> DistillResult:
    """Train ``cfg.models.student`` towards ``cfg.models.teacher`` on the ``cfg.distill.lang`` bitext.

    Every input is checked before ``out`` is created. ``on_step(step)`` runs after each optimizer
    step and its checkpoint (tests use it to kill a run at a known point).
    """
    started = time.perf_counter()
    out = Path(out)
    check_distill_config(cfg)
    objective = build_objective(cfg)
    accelerator = make_accelerator(cfg, out)
    state = run_state(out, resume)
    if state == "resume":
        check_resume_config(cfg, out)
    data = load_distill_data(cfg)
    teacher = Encoder.load(cfg.models.teacher, device=accelerator.device)
    teacher.model.eval().requires_grad_(False)
    objective.bind_listwise_temperature(listwise_temperature(teacher))
    student_encoder = Encoder.load(cfg.models.student, device=accelerator.device)
    torch.manual_seed(cfg.seed)
    student = Student(student_encoder, teacher.hidden_size, cfg.distill.projection, cfg.distill.freeze_embeddings,
                      cfg.distill.train_top_layers)
    student.to(accelerator.device)

    loop = TrainingLoop(cfg, out, accelerator, teacher, student, objective, data, progress, on_step)
    checkpoints = list_checkpoints(out) if state == "resume" else []
    resumed_from = loop.restore(checkpoints[-1]) if checkpoints else None
    accelerator.wait_for_everyone()  # every process has judged ``out`` before the main one writes to it
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out)
        if resumed_from is None:
            (out / LOG_FILE).unlink(missing_ok=True)
    if cfg.distill.log_with is not None:
        accelerator.init_trackers(PROJECT, config=hyperparameters(to_dict(cfg)))
    try:
        before = loop.run()
    finally:
        if cfg.distill.log_with is not None:
            accelerator.end_training()
    result = DistillResult(
        run_dir=str(out), lang=cfg.distill.lang, teacher=cfg.models.teacher.name,
        student_init=cfg.models.student.name, losses=objective.describe(), steps=loop.position.step,
        epochs=cfg.distill.epochs, train_pairs=len(data.train), val_pairs=len(data.val),
        val_accuracy_before=before, val_accuracy_after=loop.selected.val_accuracy,
        val_accuracy_last=loop.last_accuracy, select=cfg.distill.select, selected_step=loop.selected.step,
        projection=student.projection is not None, resumed_from_step=resumed_from,
        seconds=round(time.perf_counter() - started, 2),
        config_hash=config_hash(cfg.seed, cfg.data.prepared, cfg.models, cfg.distill), stop_reason=loop.stop_reason,
        trained_layers=student.trained_layers(),
    )
    if accelerator.is_main_process:
        _write_outputs(cfg, out, student, result)
    accelerator.wait_for_everyone()
    return result


def _write_outputs(cfg: ExperimentConfig, out: Path, student: Student, result: DistillResult) -> None:
    """Final files, each written whole; ``result.json`` last marks the run finished."""
    with unwrapped(student):
        student.encoder.save(out)
    if student.projection is not None:
        with atomic_file(out / PROJECTION_FILE, "wb") as handle:
            handle.write(save_safetensors(student.projection_tensors()))
    summary = asdict(result)
    write_text(out / "README.md", model_card(cfg, summary, result.losses))
    for old in list_checkpoints(out)[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(out / PRIVATE_FOLDER, ignore_errors=True)  # the run's own teacher outputs, kept until now for a resume
    write_json(out / "result.json", summary)
    BestSnapshot(out).discard()  # the kept weights are the model now (after result.json: a kill before it resumes)
