"""Deterministic data order: the batches of an epoch are a function of (seed, epoch) alone.

That is what makes ``--resume`` exact: a checkpoint only records (epoch, next micro-batch), and
the resumed run regenerates the same permutation instead of storing it.
"""

from __future__ import annotations

import math

import torch


def epoch_permutation(n_pairs: int, seed: int, epoch: int) -> list[int]:
    """A shuffled order of ``range(n_pairs)``, the same for the same seed and epoch on any machine."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n_pairs, generator=generator).tolist()


def micro_batches(n_pairs: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's micro-batches (the last one may be smaller)."""
    order = epoch_permutation(n_pairs, seed, epoch)
    return [order[start : start + batch_size] for start in range(0, n_pairs, batch_size)]


def steps_per_epoch(n_pairs: int, batch_size: int, grad_accum: int) -> int:
    """Optimizer steps per epoch: micro-batches grouped by ``grad_accum`` (a short last group counts)."""
    return math.ceil(math.ceil(n_pairs / batch_size) / grad_accum)


def shard(indices: list[int], rank: int, world_size: int) -> list[int]:
    """This process's part of a global micro-batch (data parallelism; all of it on one process)."""
    return indices[rank::world_size]
