"""Calibration transfer: fit where labels exist, apply elsewhere, unchanged or through label-free adapters."""
