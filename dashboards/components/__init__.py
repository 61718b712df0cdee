"""Shared dashboard pieces: the session (login through the API), charts, tables with CSV download."""
