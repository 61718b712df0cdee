"""Create a tenant with its first team and admin (the CLI's `create-org`, demo data, tests)."""

from __future__ import annotations

import re
import uuid

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from serving.core.db import set_tenant
from serving.core.errors import Conflict
from serving.core.permissions import Role
from serving.core.schemas import Email
from serving.core.security import hash_password
from serving.organizations.models import Organization, Team
from serving.users.models import Profile, User

MIN_PASSWORD_LENGTH = 8
_email = TypeAdapter(Email)


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "org"


def _unique_slug(db_session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while db_session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_user(
    *, db_session: Session, organization_id: uuid.UUID, email: str, password: str | None, role: Role | str,
    full_name: str | None = None, team_id: uuid.UUID | None = None,
) -> User:
    try:
        # The same rule as login, so nobody is created with an address they could never sign in with.
        email = _email.validate_python(email)
    except ValidationError:
        raise ValueError(f"{email!r} is not a valid e-mail address") from None
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    # E-mails are unique across tenants; the lookup function sees every tenant's users.
    if db_session.execute(text("select 1 from app.authenticate_user(:email)"), {"email": email}).first():
        raise Conflict(f"a user with e-mail {email} already exists", code="DUPLICATE_EMAIL")
    first, _, last = (full_name or "").partition(" ")
    user = User(organization_id=organization_id, team_id=team_id, email=email, role=str(Role(role)),
                password_hash=hash_password(password) if password else None, full_name=full_name)
    db_session.add(user)
    db_session.flush()
    db_session.add(Profile(user_id=user.id, organization_id=organization_id, first_name=first or None,
                           last_name=last or None))
    return user


def create_organization(
    *, db_session: Session, name: str, admin_email: str, admin_password: str, admin_name: str | None = None,
    team_name: str = "Sales",
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
                        password=admin_password, role=Role.admin, full_name=admin_name, team_id=team.id)
    return organization, team, admin
