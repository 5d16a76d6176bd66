"""Bridges to other tools' training loops (sentence-transformers); each imports its tool only when used."""
