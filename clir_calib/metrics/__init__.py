"""Retrieval metrics computed from ranked relevance labels (equal to trec_eval / ir_measures)."""
