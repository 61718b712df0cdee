"""Deals: the sales pipeline (seed 1.2)."""
