"""One distillation run's loop: steps with gradient accumulation, validation, best-step selection,
checkpoints with the exact data position (so a resumed run ends with the same weights), the log."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from clir_calib.config import ExperimentConfig
from clir_calib.distill import order
from clir_calib.distill.checkpoint import Position, load_checkpoint, restore_rng, save_checkpoint
from clir_calib.distill.evaluation import top1_accuracy
from clir_calib.distill.logbook import LOG_FILE, append_record, read_log, truncate_log
from clir_calib.distill.progress import TrainingProgress
from clir_calib.distill.selection import BestSnapshot, Selected
from clir_calib.distill.stopping import Patience, end_reason
from clir_calib.distill.student import Student, adamw, parameter_groups, warmup_linear_schedule
from clir_calib.distill.teacher_store import TeacherStore, store_root
from clir_calib.distill.trackers import tracker_values
from clir_calib.errors import DataError, NumericalError
from clir_calib.models.encoder import Encoder

#: Both sides are encoded as documents during training: the student learns to put an xx document
#: where the teacher puts its English translation (the teacher encodes English queries at search time).
TRAIN_ROLE = "passage"
KEEP_CHECKPOINTS = 2

@contextlib.contextmanager
def unwrapped(student: Student) -> Iterator[None]:
    """Temporarily hand the encoder its bare model (not the DDP wrapper) for saving or evaluation."""
    wrapped = student.encoder.model
    student.encoder.model = getattr(wrapped, "module", wrapped)
    try:
        yield
    finally:
        student.encoder.model = wrapped


class TrainingLoop:
    """The optimizer, schedule, position and the step/eval/checkpoint cycle of one run."""

    def __init__(self, cfg: ExperimentConfig, out: Path, accelerator: Any, teacher: Encoder, student: Student,
                 objective: Any, data: Any, progress: bool, on_step: Callable[[int], None] | None) -> None:
        self.cfg, self.dc, self.out = cfg, cfg.distill, out
        self.accelerator, self.teacher, self.student = accelerator, teacher, student
        self.objective, self.data, self.on_step = objective, data, on_step
        self.progress = progress and accelerator.is_main_process
        self.steps_per_epoch = order.steps_per_epoch(len(data.train), self.dc.batch_size, self.dc.grad_accum)
        self.total_steps = self.steps_per_epoch * self.dc.epochs
        if self.dc.max_steps is not None:
            self.total_steps = min(self.total_steps, self.dc.max_steps)
        self.patience = Patience(self.dc.patience, self.dc.min_delta)
        self.stop_reason = ""
        self.optimizer = adamw(parameter_groups(student, self.dc.weight_decay), self.dc.lr)
        self.scheduler = warmup_linear_schedule(self.optimizer, self.total_steps, self.dc.warmup_ratio)
        student.encoder.model, self.optimizer = accelerator.prepare(student.encoder.model, self.optimizer)
        if student.projection is not None:
            student.projection = accelerator.prepare(student.projection)
        self.position = Position()
        self.last_accuracy = float("nan")
        self.best = BestSnapshot(out, self.dc.min_delta) if self.dc.select == "best" else None
        self.selected = Selected(0, float("nan"))
        self.queries: torch.Tensor | None = None
        stores = (store_root(cfg.distill.teacher_cache, out), teacher)
        precision = str(accelerator.mixed_precision)
        self.train_store = TeacherStore(*stores, TRAIN_ROLE, precision, autocast=accelerator.autocast)
        self.query_store = TeacherStore(*stores, "query", precision, autocast=accelerator.autocast)
        self._window: dict[str, float] = {}
        if student.top_layers is not None:
            student.use_lower_cache(TRAIN_ROLE, autocast=accelerator.autocast)

    def restore(self, folder: Path) -> int:
        loaded = load_checkpoint(folder)
        where = loaded.position
        batches = order.steps_per_epoch(len(self.data.train), self.dc.batch_size, 1)
        if not (0 <= where.step <= self.total_steps and 0 <= where.epoch <= self.dc.epochs
                and 0 <= where.micro_batch <= batches):
            raise DataError(f"checkpoint {folder} is at step {where.step} (epoch {where.epoch}, micro-batch "
                            f"{where.micro_batch}), beyond this run's {self.total_steps} steps of {self.dc.epochs} "
                            "epoch(s); it belongs to another run: delete it or choose another --out")
        self.student.load_trainable_state(loaded.trainable)
        self.optimizer.load_state_dict(loaded.optimizer)
        self.scheduler.load_state_dict(loaded.scheduler)
        restore_rng(loaded.rng)
        self.position = loaded.position
        if self.accelerator.is_main_process:
            truncate_log(self.out / LOG_FILE, loaded.position.step)
        records = read_log(self.out / LOG_FILE)
        if not any(r.get("step") == 0 and isinstance(r.get("val_accuracy"), int | float) for r in records):
            raise DataError(f"{self.out / LOG_FILE} is missing or lost its records (no validation at step 0), so the "
                            "run's history and its selection cannot be rebuilt; distill again into a new --out")
        if self.best is not None:
            self.best.resume(loaded.position.step, records)
        self.patience.replay(records, loaded.position.step)
        return loaded.position.step

    # ------------------------------------------------------------------ loop
    def run(self) -> float:
        """Train to the end; return the val accuracy before training (from the log when resumed)."""
        batch_size = self.cfg.models.teacher.batch_size
        self.train_store.ensure(self.data.train.en, batch_size)  # the teacher runs here, once per sentence
        if self.objective.needs_teacher_queries:
            self.query_store.ensure(self.data.train.en, batch_size)
        self.query_store.ensure(self.data.val.en, batch_size)
        self.queries = self.query_store.pooled(self.data.val.en)
        if self.student.lower_cache is not None:  # the frozen lower layers run here, once per sentence
            texts = [*self.data.train.xx, *(self.data.train.en if self.objective.needs_student_source else [])]
            self.student.lower_cache.ensure([*texts, *self.data.val.xx], self.cfg.models.student.batch_size)
        if self.position.step == 0:
            self._checked("eval", self._validate())
        before = self._logged_before()
        with TrainingProgress(self.progress, self.total_steps, self.position.step) as bar:
            while self.position.step < self.total_steps and not self.patience.exhausted:
                epoch = self.position.epoch
                batches = order.micro_batches(len(self.data.train), self.dc.batch_size, self.cfg.seed, epoch)
                start = self.position.micro_batch
                group = batches[start : start + self.dc.grad_accum]
                loss = self._step(group)
                end = start + len(group)
                step = self.position.step + 1
                self.position = Position(step, epoch + 1, 0) if end >= len(batches) else Position(step, epoch, end)
                bar.advance(loss, sum(len(b) for b in group))
                if step == self.total_steps:
                    self._checked("final", self._validate(), bar.pairs_per_second)
                elif step % self.dc.eval_every == 0:
                    self._checked("eval", self._validate(), bar.pairs_per_second)
                if step % self.dc.save_every == 0 and step < self.total_steps and not self.patience.exhausted:
                    self._checkpoint()
                if self.on_step is not None:
                    self.on_step(step)
        step = self.position.step
        self.stop_reason = self.patience.reason(step) if self.patience.exhausted else \
            end_reason(step, self.steps_per_epoch * self.dc.epochs, self.dc.max_steps)
        if self.accelerator.is_main_process:
            append_record(self.out / LOG_FILE, {"event": "stop", "step": step, "reason": self.stop_reason})
        self._select()
        return before

    def _validate(self) -> float:
        """Val accuracy now; with ``select: best`` the weights are kept when they beat every earlier step."""
        accuracy = self._evaluate()
        if self.best is not None and self.accelerator.is_main_process:
            self.best.offer(self.position.step, accuracy, self.student.trainable_state())
        return accuracy

    def _select(self) -> None:
        """End with the selected weights and say which step they are from (``log.jsonl``)."""
        self.selected = Selected(self.position.step, self.last_accuracy)
        if self.best is not None:
            self.accelerator.wait_for_everyone()
            if self.best.best is None:
                self.best.resume(self.position.step, read_log(self.out / LOG_FILE))
            if self.best.best is not None:
                self.selected = self.best.best
                if self.selected.step != self.position.step:
                    self.student.load_trainable_state(self.best.load())
        if self.accelerator.is_main_process:
            append_record(self.out / LOG_FILE, {
                "event": "select", "step": self.position.step, "select": self.dc.select,
                "selected_step": self.selected.step, "val_accuracy": round(self.selected.val_accuracy, 6),
            })

    def _step(self, group: list[list[int]]) -> float:
        acc = self.accelerator
        model = self.student.encoder.model
        model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total_pairs = sum(len(b) for b in group)
        value = 0.0
        for i, indices in enumerate(group):
            local = order.shard(indices, acc.process_index, acc.num_processes)
            if len(indices) < acc.num_processes:
                continue  # too small to split across processes; skipped by every process alike
            en = [self.data.train.en[j] for j in local]
            xx = [self.data.train.xx[j] for j in local]
            target = self.train_store.batch(en, device=acc.device)
            if self.objective.needs_teacher_queries:
                target.query_pooled = self.query_store.pooled(en).to(acc.device)
            sync = acc.no_sync(model) if i < len(group) - 1 else contextlib.nullcontext()
            with sync, acc.autocast():
                mine = self.student.encode_batch(xx, TRAIN_ROLE)
                source = self.student.encode_batch(en, TRAIN_ROLE) if self.objective.needs_student_source else None
                loss = self.objective(mine, target, source)
                if not bool(torch.isfinite(loss.detach())):
                    raise NumericalError(
                        f"the distillation loss is {float(loss.detach())} at step {self.position.step + 1}; "
                        "lower distill.lr or check the data and models for NaN"
                    )
                acc.backward(loss * (len(indices) / total_pairs))
            value += float(loss.detach()) * len(indices) / total_pairs
        params = [p for p in self.student.trainable_state().values()]
        if self.dc.max_grad_norm > 0:
            norm = acc.clip_grad_norm_(params, self.dc.max_grad_norm)
            if not bool(torch.isfinite(torch.as_tensor(norm))):
                raise NumericalError(
                    f"gradient norm is {float(norm)} at step {self.position.step + 1}; lower distill.lr"
                )
        self.optimizer.step()
        self.scheduler.step()
        self._accumulate(value)
        return value

    # -------------------------------------------------------------- helpers
    def _accumulate(self, value: float) -> None:
        window = self._window
        window["loss"] = window.get("loss", 0.0) + value
        window["steps"] = window.get("steps", 0.0) + 1
        for name, part in self.objective.last_parts.items():
            window[f"loss_{name}"] = window.get(f"loss_{name}", 0.0) + part
        for term in self.objective.terms:
            iterations = getattr(term, "last_info", {}).get("sinkhorn_iterations")
            if iterations is not None:
                window["sinkhorn_iterations"] = window.get("sinkhorn_iterations", 0.0) + iterations

    def _evaluate(self) -> float:
        accuracy = float("nan")
        if self.accelerator.is_main_process:
            assert self.queries is not None
            with unwrapped(self.student):
                texts, size = self.data.val.xx, self.cfg.models.student.batch_size
                documents = self.student.encode(texts, "passage", size) if self.position.step else \
                    self.student.encode_untrained(texts, "passage", size, self._start_cache(), {
                        "lang": self.dc.lang, "precision": str(self.accelerator.mixed_precision),
                        "device": str(self.accelerator.device.type)})
            accuracy = top1_accuracy(self.queries, self.student.project(documents))
        self.accelerator.wait_for_everyone()
        self.last_accuracy = accuracy
        return accuracy

    def _start_cache(self) -> Path | None:
        """Where untrained students' validation encodings are shared (beside the teacher's outputs); None: nowhere."""
        root = self.dc.teacher_cache
        return Path(root).expanduser() / "student-start" if root else None

    def _checked(self, event: str, accuracy: float, pairs_per_second: float | None = None) -> None:
        """Log a val check and count it for early stopping (the main process decides; every process follows)."""
        self._log(event, accuracy, pairs_per_second)
        stop = self.patience.offer(accuracy) if self.accelerator.is_main_process else False
        if self.accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            shared = broadcast_object_list([stop, self.patience.best, self.patience.stale])
            self.patience.best, self.patience.stale = shared[1], shared[2]

    def _log(self, event: str, accuracy: float, pairs_per_second: float | None = None) -> None:
        if not self.accelerator.is_main_process:
            return
        record: dict[str, Any] = {
            "event": event, "step": self.position.step,
            "epoch": round(self.position.step / self.steps_per_epoch, 4),
            "val_accuracy": round(accuracy, 6), "val_pairs": len(self.data.val),
        }
        steps = self._window.pop("steps", 0.0)
        if steps:
            record.update({k: round(v / steps, 6) for k, v in self._window.items()})
            record["lr"] = self.scheduler.get_last_lr()[0]
        if pairs_per_second is not None:
            record["pairs_per_s"] = round(pairs_per_second, 2)
        self._window.clear()
        append_record(self.out / LOG_FILE, record)
        if self.cfg.distill.log_with is not None:
            self.accelerator.log(tracker_values(record), step=self.position.step)

    def _logged_before(self) -> float:
        for record in read_log(self.out / LOG_FILE):
            if record.get("step") == 0:
                return float(record["val_accuracy"])
        return float("nan")

    def _checkpoint(self) -> None:
        if self.accelerator.is_main_process:
            save_checkpoint(self.out, self.position, self.student.trainable_state(), self.optimizer,
                            self.scheduler, keep=KEEP_CHECKPOINTS)
        self.accelerator.wait_for_everyone()
