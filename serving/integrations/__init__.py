"""Integrations: the marketplace, installed connectors (OAuth 2.0 / API key), usage, health and sync (issue 17 §3)."""
