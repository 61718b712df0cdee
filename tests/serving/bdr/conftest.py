"""The AI tests' fake vendors (tests/serving/ai/fake_vendors.py), for the agent's keyed reply classifier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serving.ai.fake_vendors import FakeVendors, running_vendors


@pytest.fixture(scope="session")
def _vendor_servers() -> Iterator[FakeVendors]:
    with running_vendors() as vendors:
        yield vendors


@pytest.fixture
def fake_vendors(_vendor_servers) -> FakeVendors:
    _vendor_servers.reset()
    return _vendor_servers
