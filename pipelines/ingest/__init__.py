"""Pure helpers for landing files: parse, validate, and load into `raw` with the file ledger."""
