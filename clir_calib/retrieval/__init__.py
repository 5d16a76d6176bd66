"""Encoding corpora once (an embedding cache keyed by model, settings and texts) and top-k search."""
