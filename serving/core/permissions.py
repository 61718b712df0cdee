"""What a principal may do: the API scopes, the user roles and which scopes each role holds at most.

They live in core because authorization (core.deps `require`) and every domain's routes need them, and core
imports no domain; `users` stores the role and `api_keys` the scopes a key carries.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    prospects_read = "prospects:read"
    prospects_write = "prospects:write"
    accounts_read = "accounts:read"
    accounts_write = "accounts:write"
    deals_read = "deals:read"
    deals_write = "deals:write"
    activities_read = "activities:read"
    activities_write = "activities:write"
    emails_send = "emails:send"
    events_write = "events:write"
    search_read = "search:read"
    knowledge_read = "knowledge:read"
    knowledge_write = "knowledge:write"
    webhooks_manage = "webhooks:manage"
    ai_read = "ai:read"
    ai_write = "ai:write"
    bdr_read = "bdr:read"
    bdr_write = "bdr:write"
    integrations_read = "integrations:read"
    integrations_write = "integrations:write"


class Role(StrEnum):
    admin = "admin"
    user = "user"
    viewer = "viewer"


READ_SCOPES = frozenset(s.value for s in Scope if s.value.endswith(":read"))
ALL_SCOPES = frozenset(s.value for s in Scope)


def role_scopes(role: str) -> frozenset[str]:
    """What a role may do at most; viewers only read."""
    return READ_SCOPES if role == Role.viewer else ALL_SCOPES
