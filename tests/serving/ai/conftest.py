"""Fixtures for the AI tests: the fake vendors (tests/serving/ai/fake_vendors.py) and settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.serving.ai.fake_vendors import FakeVendors, running_vendors


@pytest.fixture(scope="session")
def _vendor_servers() -> Iterator[FakeVendors]:
    with running_vendors() as vendors:
        yield vendors


@pytest.fixture
def fake_vendors(_vendor_servers) -> FakeVendors:
    """The three fake vendors, reset (no requests, no script, default answers) for each test."""
    _vendor_servers.reset()
    return _vendor_servers


@pytest.fixture
def ai_settings(settings, fake_vendors):
    """The test database's settings with all three providers configured against the fakes."""
    return make_settings(settings.owner_database_url, settings.home, **fake_vendors.env())
