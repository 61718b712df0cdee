"""Prospects: the contacts sales works (seed 1.1)."""
