"""Shared fixtures. Model fixtures: fixtures_models.py; data fixtures: fixtures_data.py."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

pytest_plugins = ["fixtures_models", "fixtures_data", "fixtures_nmt"]


import pytest  # noqa: E402


@pytest.fixture
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny tensors: one thread avoids OpenMP waits on a shared 2-core machine (results are unchanged)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
