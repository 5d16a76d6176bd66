"""Encoders and offline-first model resolution."""
