"""Score calibrators: similarity scores -> probabilities of relevance (registered as plugins)."""
