"""Outreach test fixtures (shared with the sibling outreach test folders)."""

from tests.serving.outreach_fixtures import Clock, clock, deliver, make_prospect

__all__ = ["Clock", "clock", "deliver", "make_prospect"]
