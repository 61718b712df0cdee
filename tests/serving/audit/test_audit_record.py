"""Audit records: filed under the acting principal's organization, and signing in or out names the user."""

from __future__ import annotations

from sqlalchemy import select

from serving.audit import service as audit
from serving.audit.models import AuditLog
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from tests.factories import PASSWORD


def test_a_record_is_filed_under_the_principals_organization(settings, tenant, owner_session):
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="user",
                          ip_address="203.0.113.7", request_id="req-audit-1")
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        audit.record(db_session=session, principal=principal, action="update", entity_type="account",
                     entity_id="acc-1", changes={"name": {"from": "A", "to": "B"}})
    row = owner_session.scalars(select(AuditLog).where(AuditLog.request_id == "req-audit-1")).one()
    assert row.organization_id == tenant.organization_id
    assert (row.actor_user_id, row.ip_address, row.entity_id) == (tenant.user.id, "203.0.113.7", "acc-1")


def test_signing_in_and_out_is_recorded_with_the_user_and_address(client, tenant, owner_session):
    login = client.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD},
                        headers={"X-Request-ID": "req-audit-login"})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    started = client.post("/api/v1/auth/sessions", headers=headers)
    assert started.status_code == 201, started.text
    revoked = client.post("/api/v1/auth/sessions/revoke", json={"sessionToken": started.json()["sessionToken"]},
                          headers={"X-Request-ID": "req-audit-logout"})
    assert revoked.status_code == 204, revoked.text
    rows = owner_session.scalars(
        select(AuditLog).where(AuditLog.request_id.in_(["req-audit-login", "req-audit-logout"]))
        .order_by(AuditLog.request_id)
    ).all()
    assert [(r.action, r.organization_id, r.actor_user_id, r.entity_id) for r in rows] == [
        ("login", tenant.organization_id, tenant.user.id, str(tenant.user.id)),
        ("logout", tenant.organization_id, tenant.user.id, str(tenant.user.id)),
    ]
    # TestClient's peer address: the record says where the sign-in came from
    assert all(r.ip_address == "testclient" for r in rows)
