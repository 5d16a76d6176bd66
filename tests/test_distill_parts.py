"""The pieces of the distillation loop: data order, schedule, checkpoints, log, accuracy, CLI loss flags."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.cli.distill import parse_loss_flags
from clir_calib.distill import order
from clir_calib.distill.checkpoint import (
    Position,
    list_checkpoints,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from clir_calib.distill.evaluation import top1_accuracy
from clir_calib.distill.logbook import append_record, read_log, truncate_log
from clir_calib.distill.student import warmup_linear_schedule
from clir_calib.errors import ConfigError, DataError


def test_data_order_depends_on_seed_and_epoch_only() -> None:
    first = order.epoch_permutation(50, seed=13, epoch=0)
    assert first == order.epoch_permutation(50, seed=13, epoch=0)
    assert sorted(first) == list(range(50))
    assert first != order.epoch_permutation(50, seed=13, epoch=1)
    assert first != order.epoch_permutation(50, seed=14, epoch=0)
    batches = order.micro_batches(50, 8, seed=13, epoch=0)
    assert [len(b) for b in batches] == [8] * 6 + [2] and sum(batches, []) == first
    assert order.steps_per_epoch(50, 8, grad_accum=3) == 3  # 7 micro-batches in groups of 3
    assert order.shard([5, 6, 7, 8, 9], rank=1, world_size=2) == [6, 8]


def test_warmup_then_linear_decay() -> None:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_linear_schedule(optimizer, total_steps=10, warmup_ratio=0.2)
    rates = []
    for _ in range(10):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert rates[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert rates[2:] == pytest.approx([1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    assert schedule.get_last_lr()[0] == 0.0


def test_checkpoints_round_trip_and_keep_the_newest(tmp_path: Path) -> None:
    weights = {"layer.weight": torch.randn(3, 2)}
    parameter = torch.nn.Parameter(weights["layer.weight"].clone())
    optimizer = torch.optim.AdamW([parameter], lr=0.1)
    parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    schedule = warmup_linear_schedule(optimizer, 10, 0.1)
    for step in (2, 4, 6):
        torch.manual_seed(step)
        random.seed(step)
        np.random.seed(step)
        save_checkpoint(tmp_path, Position(step, 0, step), weights, optimizer, schedule, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-0000004", "step-0000006"]
    expected = (torch.rand(3), random.random(), np.random.rand())
    loaded = load_checkpoint(list_checkpoints(tmp_path)[-1])
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    restore_rng(loaded.rng)
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]
    assert np.random.rand() == expected[2]
    assert loaded.position == Position(6, 0, 6)
    assert torch.equal(loaded.trainable["layer.weight"], weights["layer.weight"])
    assert loaded.optimizer["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    (list_checkpoints(tmp_path)[-1] / "training_state.pt").write_bytes(b"broken")
    with pytest.raises(DataError, match="unreadable"):
        load_checkpoint(list_checkpoints(tmp_path)[-1])


def test_log_skips_torn_lines_and_is_cut_back_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    for step in (0, 2, 4, 6):
        append_record(path, {"step": step, "val_accuracy": step / 10})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"step": 8, "val_acc')  # killed mid-line
    assert [r["step"] for r in read_log(path)] == [0, 2, 4, 6]
    assert [r["step"] for r in truncate_log(path, 4)] == [0, 2, 4]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [0, 2, 4]


def test_top1_accuracy() -> None:
    queries = torch.eye(4)
    documents = torch.eye(4)[[0, 1, 3, 2]]
    assert top1_accuracy(queries, documents) == 0.5
    with pytest.raises(ValueError, match="as many"):
        top1_accuracy(queries, documents[:3])


def test_loss_flags() -> None:
    assert parse_loss_flags(None) is None
    assert parse_loss_flags(["ot", "mse"]) == [{"name": "ot", "weight": 1.0}, {"name": "mse", "weight": 1.0}]
    assert parse_loss_flags(["ot+0.5*mse"]) == [{"name": "ot", "weight": 1.0}, {"name": "mse", "weight": 0.5}]
    with pytest.raises(ConfigError, match="empty term"):
        parse_loss_flags(["ot+"])
    with pytest.raises(ConfigError, match="finite"):
        parse_loss_flags(["inf*ot"])
