"""The `revorc` command line and the local runtime that starts the embedded services."""
