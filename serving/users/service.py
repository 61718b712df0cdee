"""Creating users (and their profile) in an organization: the one writer of `app.users` and `app.profiles`."""

from __future__ import annotations

import uuid

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.errors import Conflict
from serving.core.permissions import Role
from serving.core.schemas import Email
from serving.core.security import hash_password
from serving.users.models import Profile, User

MIN_PASSWORD_LENGTH = 8
_email = TypeAdapter(Email)


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


def sync_from_identity_provider(*, db_session: Session, user: User, role: str | None, full_name: str | None,
                                team_id: uuid.UUID | None) -> None:
    """An SSO sign-in: what the identity provider says (through the provider's attribute mapping) wins; a value it
    does not send leaves the user's as it is."""
    if role is not None:
        user.role = str(Role(role))
    if full_name:
        user.full_name = full_name
    if team_id is not None:
        user.team_id = team_id
    user.last_login_at = utcnow()
