"""CRM API test fixtures (shared with the sibling CRM test folders)."""

from tests.serving.crm_fixtures import key_headers, other_tenant, shared_tenant

__all__ = ["key_headers", "other_tenant", "shared_tenant"]
