"""docs/events.md stays true: every catalogued event and every registered subscriber is in it, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from serving.core.event_catalogue import CATALOGUE
from serving.subscribers import REGISTRY

DOC = (Path(__file__).resolve().parents[3] / "docs" / "events.md").read_text()


def test_the_catalogue_table_lists_exactly_the_catalogue():
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (\d+) \|", DOC, flags=re.M))
    assert documented == {(t.name, str(t.version)) for t in CATALOGUE.values()}


def test_the_subscriber_table_lists_exactly_the_registry():
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \|", DOC.split("## Subscribers", 1)[1], flags=re.M)
    assert {name for name, _ in rows} == set(REGISTRY.subscribers)
