"""Fixtures shared by the CRM API tests (accounts, deals, activities): scoped API keys, module tenants."""

from __future__ import annotations

import pytest

from tests.factories import make_tenant


@pytest.fixture
def key_headers(client, tenant):
    """`key_headers("deals:read")` → headers for a fresh API key of the tenant's admin with those scopes."""

    def make(*scopes: str) -> dict[str, str]:
        response = client.post("/api/v1/api-keys", json={"name": "k", "scopes": list(scopes)},
                               headers=tenant.admin.headers)
        assert response.status_code == 201, response.text
        return {"X-API-Key": response.json()["key"]}

    return make


@pytest.fixture(scope="module")
def shared_tenant(settings):
    """One tenant for a module's self-contained checks: tenants are slow to make (password hashing)."""
    return make_tenant(settings)


@pytest.fixture(scope="module")
def other_tenant(settings):
    """Here the other tenant is only ever the outsider (its rows must stay invisible), so one per module does."""
    return make_tenant(settings)
