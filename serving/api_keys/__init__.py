"""Scoped, hashed API keys for programmatic access (seed 6.2)."""
