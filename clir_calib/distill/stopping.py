"""Early stopping (``distill.patience``, ``distill.min_delta``) and the reason every run gives for ending.

A run ends at the first of: ``patience`` val checks in a row without an improvement of more than
``min_delta`` over the best val accuracy so far (step 0 included), ``max_steps``, or the end of the configured
epochs. The same test of an improvement decides which step ``select: best`` keeps (as Keras' ``EarlyStopping``
with ``restore_best_weights`` does): a gain below ``min_delta`` is noise, so an early-stopped run keeps a step
``patience`` checks before its stop. The reason goes into ``log.jsonl`` (a ``stop`` event), ``result.json`` and the model card. A resumed run
replays its logged val checks, so it stops where an uninterrupted run would have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def improves(accuracy: float, best: float | None, min_delta: float = 0.0) -> bool:
    """Whether a val accuracy counts as an improvement on ``best`` (None: nothing yet); NaN never does."""
    return accuracy == accuracy and (best is None or accuracy - min_delta > best)


@dataclass
class Patience:
    """Counts val checks since the last improvement; ``patience`` None never stops."""

    patience: int | None
    min_delta: float = 0.0
    best: float | None = None
    stale: int = 0

    def offer(self, accuracy: float) -> bool:
        """Record one val check; True when the run should stop now."""
        if improves(accuracy, self.best, self.min_delta):
            self.best, self.stale = accuracy, 0
        else:
            self.stale += 1
        return self.exhausted

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.stale >= self.patience

    def replay(self, records: Iterable[dict[str, Any]], up_to: int) -> Patience:
        """Offer the logged val checks up to step ``up_to`` (a resumed run), in order."""
        for record in records:
            if record.get("event") in ("eval", "final") and int(record.get("step", -1)) <= up_to and \
                    isinstance(record.get("val_accuracy"), int | float):
                self.offer(float(record["val_accuracy"]))
        return self

    def reason(self, step: int) -> str:
        return (f"early stop: no val accuracy gain above {self.min_delta:g} in {self.patience} checks "
                f"(best {self.best:.4f}) at step {step}")


def end_reason(step: int, total_steps: int, max_steps: int | None) -> str:
    """Why a run that was not stopped early ended."""
    if max_steps is not None and step >= max_steps and max_steps < total_steps:
        return f"reached max_steps ({max_steps})"
    return f"finished the configured epochs ({step} steps)"
