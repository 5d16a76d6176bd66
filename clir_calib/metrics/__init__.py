"""Metrics: retrieval (equal to trec_eval / ir_measures) and calibration (binned, smooth, debiased, selective)."""
