"""Self-serve accounts: sign up, confirm the address, reset a forgotten password, sign out a token, and optional
TOTP two-factor sign-in that an organization can require.

- Account e-mail tokens (verify, reset) are random, mailed once, stored hashed, single use, and expire
  (`EMAIL_VERIFICATION_EXPIRATION_HOURS`, `PASSWORD_RESET_EXPIRATION_MINUTES`). Asking for a reset answers the
  same whether or not the address exists. A completed reset signs every session of the user out.
- An unverified user can sign in and work; what waits for a confirmed address is inviting others (the one action
  that sends mail in the organization's name to new people) — `EMAIL_NOT_VERIFIED`.
- Two-factor (serving.users.two_factor) can be required by the organization: members without it can then only
  enrol (the sign-in check answers TWO_FACTOR_ENROLLMENT_REQUIRED to anything else).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from serving.auth import service as auth
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import AppError, Conflict, ValidationFailed
from serving.core.security import verify_password
from serving.emails import system_mail
from serving.organizations import service as organizations
from serving.team.models import AccountToken, TokenPurpose
from serving.team.service import new_token, token_hash
from serving.users import service as users
from serving.users.models import User


class SignupDisabled(AppError):
    status_code = 403
    code = "SIGNUP_DISABLED"


# -- sign up and the address -------------------------------------------------------------------------------------

def signup(*, db_session: Session, settings: Settings, organization_name: str, email: str, password: str,
           full_name: str | None) -> User:
    """A new organization (on the Free plan) and its admin, who is sent a link to confirm the address."""
    if not settings.signup_enabled:
        raise SignupDisabled("sign-up is turned off on this install: ask an admin for an invitation")
    try:
        _organization, _team, admin = organizations.create_organization(
            db_session=db_session, name=organization_name, admin_email=email, admin_password=password,
            admin_name=full_name, admin_email_verified=False)
    except ValueError as exc:
        field = "password" if "password" in str(exc) else "email" if "e-mail" in str(exc) else "organizationName"
        raise ValidationFailed(str(exc), details={"field": field}) from None
    send_verification(db_session=db_session, settings=settings, user=admin)
    return admin


def _issue(db_session: Session, user: User, purpose: TokenPurpose, ttl: timedelta) -> str:
    # a new link replaces the user's earlier unused ones of the same purpose
    db_session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=utcnow()))
    token, hashed = new_token()
    db_session.add(AccountToken(organization_id=user.organization_id, user_id=user.id, purpose=purpose,
                                token_hash=hashed, expires_at=utcnow() + ttl))
    db_session.flush()
    return token


def _link(settings: Settings, **query: str) -> str:
    return f"{settings.dashboards_url.rstrip('/')}/?{urlencode(query)}"


def send_verification(*, db_session: Session, settings: Settings, user: User) -> None:
    if user.email_verified_at is not None:
        raise Conflict("this address is already confirmed", code="EMAIL_ALREADY_VERIFIED")
    hours = settings.email_verification_expiration_hours
    token = _issue(db_session, user, TokenPurpose.verify_email, timedelta(hours=hours))
    system_mail.send(settings, organization_id=user.organization_id, to=user.email, category="account",
                     subject="Confirm your e-mail address for AIRevenueOrc",
                     body=(f"Confirm this address (the link works once, for {hours} hours):\n"
                           f"{_link(settings, verify=token)}\n\nIf you did not sign up, ignore this e-mail."))


def _use_token(db_session: Session, token: str, purpose: TokenPurpose) -> AccountToken:
    hashed = token_hash(token)
    organization_id = db_session.scalar(text("select app.account_token_organization(:h)"), {"h": hashed})
    row = None
    if organization_id is not None:
        set_tenant(db_session, organization_id)
        row = db_session.scalar(select(AccountToken).where(AccountToken.token_hash == hashed).with_for_update())
    if row is None or row.purpose != purpose:
        raise ValidationFailed("this link is not valid: ask for a new one", code="INVALID_LINK",
                               details={"field": "token"})
    if row.used_at is not None:
        raise ValidationFailed("this link was already used: ask for a new one", code="LINK_USED",
                               details={"field": "token"})
    if row.expires_at <= utcnow():
        raise ValidationFailed("this link has expired: ask for a new one", code="LINK_EXPIRED",
                               details={"field": "token"})
    row.used_at = utcnow()
    return row


def verify_email(*, db_session: Session, token: str) -> User:
    row = _use_token(db_session, token, TokenPurpose.verify_email)
    user = db_session.get(User, row.user_id)
    users.mark_email_verified(db_session=db_session, user=user)
    return user


def forgot_password(*, db_session: Session, settings: Settings, email: str) -> None:
    """Mail a reset link when the address is an active user's; nothing otherwise (the answer is the same)."""
    found = db_session.execute(text("select * from app.authenticate_user(:email)"),
                               {"email": email.lower()}).mappings().first()
    if found is None or not found["is_active"]:
        return
    set_tenant(db_session, found["organization_id"])
    user = db_session.get(User, found["id"])
    minutes = settings.password_reset_expiration_minutes
    token = _issue(db_session, user, TokenPurpose.reset_password, timedelta(minutes=minutes))
    system_mail.send(settings, organization_id=user.organization_id, to=user.email, category="account",
                     subject="Reset your AIRevenueOrc password",
                     body=(f"Choose a new password (the link works once, for {minutes} minutes):\n"
                           f"{_link(settings, reset=token)}\n\n"
                           "If you did not ask for this, ignore this e-mail: your password stays as it is."))


def reset_password(*, db_session: Session, token: str, password: str) -> User:
    row = _use_token(db_session, token, TokenPurpose.reset_password)
    user = db_session.get(User, row.user_id)
    try:
        users.set_password(db_session=db_session, user=user, password=password)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"field": "password"}) from None
    users.mark_email_verified(db_session=db_session, user=user)  # the link reached this address
    auth.end_all_sessions(db_session=db_session, user_id=user.id)
    return user


def change_password(*, db_session: Session, user: User, current: str, new: str) -> None:
    if not verify_password(current, user.password_hash):
        raise ValidationFailed("the current password is not right", code="INVALID_CREDENTIALS",
                               details={"field": "currentPassword"})
    try:
        users.set_password(db_session=db_session, user=user, password=new)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"field": "newPassword"}) from None


# -- two-factor: the organization's requirement (the user's own factor is serving.users.two_factor) -------

def require_two_factor(*, db_session: Session, organization_id: uuid.UUID, required: bool) -> None:
    organizations.set_settings_section(db_session=db_session, organization_id=organization_id, key="security",
                                       value={"requireTwoFactor": required})


def two_factor_required(*, db_session: Session, organization_id: uuid.UUID) -> bool:
    section = organizations.get_settings_section(db_session=db_session, organization_id=organization_id,
                                                 key="security") or {}
    return bool(section.get("requireTwoFactor"))
