"""Retrieval evaluation: metrics, calibration views, uncertainty and comparison tables."""
