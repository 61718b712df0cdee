"""Cadences: multi-step, multi-channel sequences with scheduling, branching and A/B tests."""
