"""Creating users (and their profile) in an organization: the one writer of `app.users` and `app.profiles`."""

from __future__ import annotations

import uuid
from typing import Any

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
    full_name: str | None = None, team_id: uuid.UUID | None = None, email_verified: bool = True,
) -> User:
    """A new user. The address counts as confirmed unless `email_verified` is false: an admin, the CLI, an
    identity provider or an accepted invitation vouches for it; only self-serve sign-up has to confirm it."""
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
                password_hash=hash_password(password) if password else None, full_name=full_name,
                email_verified_at=utcnow() if email_verified else None)
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


# -- changes the team domain makes (it owns invitations and preferences; users and profiles stay here) ---------

_UNSET: Any = object()


def update_profile(*, db_session: Session, user_id: uuid.UUID, timezone: str | None = _UNSET,
                   language: str | None = _UNSET, full_name: str | None = _UNSET, title: str | None = _UNSET,
                   phone: str | None = _UNSET) -> Profile:
    """Change what was passed (None clears a free-text field; time zone and language always keep a value)."""
    user = db_session.get(User, user_id)
    profile = db_session.get(Profile, user_id)
    if profile is None:  # users made before profiles existed
        profile = Profile(user_id=user_id, organization_id=user.organization_id)
        db_session.add(profile)
    if timezone is not _UNSET and timezone:
        profile.timezone = timezone
    if language is not _UNSET and language:
        profile.language = language
    if title is not _UNSET:
        profile.title = title
    if phone is not _UNSET:
        profile.phone = phone
    if full_name is not _UNSET:
        user.full_name = full_name
        first, _, last = (full_name or "").partition(" ")
        profile.first_name, profile.last_name = first or None, last or None
    db_session.flush()
    return profile


def set_role(*, db_session: Session, user: User, role: str) -> None:
    user.role = str(Role(role))
    db_session.flush()


def set_team(*, db_session: Session, user: User, team_id: uuid.UUID | None) -> None:
    user.team_id = team_id
    db_session.flush()


def set_active(*, db_session: Session, user: User, active: bool, role: str | None = None) -> None:
    """Deactivate (a removed member: every token, session and API key of theirs stops at once, their records stay
    theirs) or reactivate (an invitation accepted by a former member), optionally with a new role."""
    user.is_active = active
    if role is not None:
        user.role = str(Role(role))
    db_session.flush()


def set_password(*, db_session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    db_session.flush()


def mark_email_verified(*, db_session: Session, user: User) -> None:
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db_session.flush()


def set_two_factor(*, db_session: Session, user: User, sealed_secret: str | None, enabled: bool,
                   recovery_hashes: list[str] | None = None, last_step: int | None = None) -> None:
    """Store a pending secret (enrolment begun), turn it on (confirmed with a code) or off (everything cleared)."""
    user.totp_secret = sealed_secret
    user.totp_enabled_at = (user.totp_enabled_at or utcnow()) if enabled else None
    user.totp_recovery_hashes = list(recovery_hashes or []) if sealed_secret else []
    user.totp_last_step = last_step if sealed_secret else None
    db_session.flush()


def record_two_factor_use(*, db_session: Session, user: User, step: int | None = None,
                          recovery_hashes: list[str] | None = None) -> None:
    """A code was accepted: its time step (so it is not accepted twice), or a recovery code used up."""
    if step is not None:
        user.totp_last_step = step
    if recovery_hashes is not None:
        user.totp_recovery_hashes = recovery_hashes
    db_session.flush()
