"""Which decoder weights ``nmt-train`` saves: epoch-end snapshots, then their average, the best or the last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from clir_calib.errors import NumericalError
from clir_calib_nmt.recipe import NmtTrainConfig


@dataclass
class EpochSnapshot:
    """The trainable (decoder) weights at the end of one epoch, with that epoch's validation loss."""

    epoch: int
    val_loss: float
    state: dict[str, torch.Tensor]


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def keep_snapshot(snapshots: list[EpochSnapshot], snapshot: EpochSnapshot, config: NmtTrainConfig) -> None:
    """Keep what the selection needs: the best epoch so far (best), or the last ``average_last`` (average, last)."""
    if config.select == "best":
        if not snapshots or snapshot.val_loss < snapshots[0].val_loss:
            snapshots[:] = [snapshot]
        return
    snapshots.append(snapshot)
    del snapshots[: -(config.average_last if config.select == "average" else 1)]


def select_weights(model: Any, snapshots: list[EpochSnapshot], config: NmtTrainConfig) -> dict[str, Any]:
    """Load the selected decoder weights into ``model``: the element-wise mean of the kept epochs' weights
    (checkpoint averaging, Vaswani et al. 2017), the lowest-val-loss epoch, or the last one."""
    if not snapshots:
        raise NumericalError("nmt-train: no epoch finished, so there are no weights to save; raise --max-steps")
    names = list(snapshots[0].state)
    averaged = {name: torch.stack([s.state[name].float() for s in snapshots]).mean(0) for name in names}
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in averaged.items():
            parameters[name].copy_(value.to(parameters[name].device, parameters[name].dtype))
    return {"select": config.select, "epochs": [s.epoch for s in snapshots],
            "epoch_val_losses": [round(s.val_loss, 4) for s in snapshots]}
