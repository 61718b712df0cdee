"""Factories: tenants with an admin, a user and a viewer, tokens, and CRM records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from serving.core.config import Settings
from serving.core.db import engine_for, set_tenant
from serving.core.permissions import Role
from serving.core.security import create_access_token
from serving.organizations.service import create_organization, create_user

PASSWORD = "correct-horse-battery"


@dataclass
class Member:
    id: uuid.UUID
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tenant:
    organization_id: uuid.UUID
    team_id: uuid.UUID
    admin: Member
    user: Member
    viewer: Member
    settings: Settings = field(repr=False)

    def session(self) -> Session:
        """An owner session bound to this tenant (for arranging data directly)."""
        session = Session(engine_for(self.settings.owner_database_url))
        # Bound when its transaction begins (db._reapply_tenant), so callers can still `session.begin()`.
        session.info["organization_id"] = self.organization_id
        return session

    def deliver_events(self):
        """Run the domain-event delivery for this organization now, as the worker does (API role, RLS on)."""
        from serving.core import outbox
        from serving.core.db import session_factory
        from serving.subscribers import REGISTRY

        return outbox.deliver(factory=session_factory(self.settings.api_database_url),
                              organization_id=self.organization_id, registry=REGISTRY)

    def add(self, model: type, **values: Any):
        with self.session() as session, session.begin():
            set_tenant(session, self.organization_id)
            row = model(organization_id=self.organization_id, **values)
            session.add(row)
            session.flush()
            session.expunge(row)
        return row


def unique_email(prefix: str = "person") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _member(settings: Settings, user) -> Member:
    token, _ = create_access_token(settings=settings, user_id=user.id, organization_id=user.organization_id,
                                   role=user.role)
    return Member(id=user.id, email=user.email, role=user.role, token=token)


def make_tenant(settings: Settings, name: str | None = None) -> Tenant:
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        org, team, admin = create_organization(
            db_session=session, name=name or f"Org {uuid.uuid4().hex[:8]}", admin_email=unique_email("admin"),
            admin_password=PASSWORD,
        )
        user = create_user(db_session=session, organization_id=org.id, email=unique_email("user"),
                           password=None, role=Role.user, team_id=team.id)
        viewer = create_user(db_session=session, organization_id=org.id, email=unique_email("viewer"),
                             password=None, role=Role.viewer, team_id=team.id)
        # Same PASSWORD, so reuse the admin's argon2 hash: hashing costs ~0.1 s and most tests make tenants.
        user.password_hash = viewer.password_hash = admin.password_hash
        members = [_member(settings, u) for u in (admin, user, viewer)]
        return Tenant(org.id, team.id, *members, settings=settings)
