"""Calibration measurement (ECE, MCE, Brier, NLL, reliability diagrams) and the transfer experiment."""
