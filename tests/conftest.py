"""Shared fixtures. Model fixtures: fixtures_models.py; data fixtures: fixtures_data.py."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

pytest_plugins = ["fixtures_models", "fixtures_data", "fixtures_nmt"]
