"""Flows: triggers, steps and their executions; importable and exportable as versioned YAML (issue 17 §3)."""
