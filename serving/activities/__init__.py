"""The activity timeline and call logging (seed 2.3, 2.4)."""
