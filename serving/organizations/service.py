"""Create a tenant with its first team and admin (the CLI's `create-org`, demo data, tests); the admin is made by
the users domain (`serving.users.service.create_user`)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from serving.core.db import set_tenant
from serving.core.permissions import Role
from serving.organizations.models import Organization, Team
from serving.users.models import User
from serving.users.service import create_user

__all__ = ["create_organization", "create_user", "slugify"]


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "org"


def _unique_slug(db_session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    # every organization's slug, not only those row-level security shows (sign-up runs as the API role)
    while db_session.scalar(text("select app.organization_slug_taken(:slug)"), {"slug": slug}):
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_organization(
    *, db_session: Session, name: str, admin_email: str, admin_password: str, admin_name: str | None = None,
    team_name: str = "Sales", admin_email_verified: bool = True,
) -> tuple[Organization, Team, User]:
    if not name.strip():
        raise ValueError("the organization needs a name")
    organization = Organization(id=uuid.uuid4(), name=name.strip(), slug=_unique_slug(db_session, name))
    set_tenant(db_session, organization.id)
    db_session.add(organization)
    db_session.flush()
    team = Team(organization_id=organization.id, name=team_name)
    db_session.add(team)
    db_session.flush()
    admin = create_user(db_session=db_session, organization_id=organization.id, email=admin_email,
                        password=admin_password, role=Role.admin, full_name=admin_name, team_id=team.id,
                        email_verified=admin_email_verified)
    return organization, team, admin


def get_settings_section(*, db_session: Session, organization_id: uuid.UUID, key: str) -> dict | None:
    settings = db_session.scalar(select(Organization.settings).where(Organization.id == organization_id)) or {}
    return settings.get(key)


def set_settings_section(*, db_session: Session, organization_id: uuid.UUID, key: str, value: dict) -> None:
    organization = db_session.get(Organization, organization_id)
    organization.settings = {**(organization.settings or {}), key: value}


def password_sign_in_refused(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID,
                             role: str) -> bool:
    """Enforced SSO (`settings.sso`, written by the sso domain): a password sign-in is refused unless the user is
    one of the organization's break-glass admins."""
    sso = get_settings_section(db_session=db_session, organization_id=organization_id, key="sso")
    if not sso or not sso.get("enforced"):
        return False
    return not (role == "admin" and str(user_id) in sso.get("breakGlassUserIds", []))


def save_team(*, db_session: Session, organization_id: uuid.UUID, name: str, description: str | None,
              team: Team | None = None) -> Team:
    """Create a team, or rename / re-describe one."""
    if team is None:
        team = Team(organization_id=organization_id, name=name, description=description)
        db_session.add(team)
    else:
        team.name, team.description = name, description
    db_session.flush()
    return team


def delete_team(*, db_session: Session, team: Team) -> None:
    db_session.delete(team)
    db_session.flush()
