"""Enrichment providers and the per-field waterfall (issue 17 §4)."""
