"""Password login: look the user up across tenants (through a SECURITY DEFINER function), verify; and the
revocable sign-in sessions that keep a browser signed in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.auth.models import AuthSession, RevokedToken
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.security import hash_password, password_needs_rehash, verify_password
from serving.users.models import User


def get_user(*, db_session: Session, user_id: uuid.UUID) -> User | None:
    return db_session.get(User, user_id)


def authenticate(*, db_session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same timing either way)."""
    row = db_session.execute(
        text("select * from app.authenticate_user(:email)"), {"email": email}
    ).mappings().first()
    if not verify_password(password, row["password_hash"] if row else None) or row is None:
        return None
    if not row["is_active"]:
        return None
    set_tenant(db_session, row["organization_id"])
    user = db_session.get(User, row["id"])
    if user is None:
        return None
    user.last_login_at = datetime.now(UTC)
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# Sign-in sessions: the session token is a JWT (`typ` "session") naming a row of app.auth_sessions; it is
# short-lived and only exchanged for an even shorter access token, and only while the row is neither revoked
# nor expired, so signing out (or an admin revoking it) ends it on the next exchange.
SESSION_TTL = timedelta(hours=12)
SESSION_ACCESS_TTL = timedelta(minutes=15)
SESSION_TOKEN_TYPE = "session"


class SessionRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def create_session(*, db_session: Session, settings: Settings, user_id: uuid.UUID,
                   organization_id: uuid.UUID, ttl: timedelta = SESSION_TTL) -> tuple[AuthSession, str]:
    """A new session for the user and its signed token (the token is not stored: the row holds its id)."""
    now = datetime.now(UTC)
    session = AuthSession(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, created_at=now,
                          expires_at=now + ttl)
    db_session.add(session)
    db_session.flush()
    claims = {"sub": str(user_id), "org": str(organization_id), "sid": str(session.id), "typ": SESSION_TOKEN_TYPE,
              "iat": int(now.timestamp()), "exp": int(session.expires_at.timestamp())}
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)
    return session, token


def _session_claims(token: str, *, settings: Settings, verify_exp: bool = True) -> dict:
    try:
        claims = jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=[settings.jwt_algorithm],
                            options={"require": ["sub", "org", "sid", "exp"], "verify_exp": verify_exp})
        if claims.get("typ") != SESSION_TOKEN_TYPE:
            raise jwt.InvalidTokenError("not a session token")
        for claim in ("sub", "org", "sid"):
            uuid.UUID(claims[claim])
    except jwt.ExpiredSignatureError:
        raise SessionRejected("SESSION_EXPIRED", "the session has expired; sign in again") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError):
        raise SessionRejected("INVALID_TOKEN", "invalid session token") from None
    return claims


def _load_session(db_session: Session, claims: dict) -> AuthSession | None:
    set_tenant(db_session, claims["org"])
    session = db_session.get(AuthSession, uuid.UUID(claims["sid"]))
    if session is None or str(session.user_id) != claims["sub"]:
        return None
    return session


def resume_session(*, db_session: Session, settings: Settings, token: str) -> tuple[AuthSession, User]:
    """The live session a token names and its (active) user; raises SessionRejected otherwise."""
    claims = _session_claims(token, settings=settings)
    session = _load_session(db_session, claims)
    if session is None:
        raise SessionRejected("INVALID_TOKEN", "invalid session token")
    now = datetime.now(UTC)
    if session.revoked_at is not None:
        raise SessionRejected("SESSION_REVOKED", "the session was signed out; sign in again")
    if session.expires_at <= now:
        raise SessionRejected("SESSION_EXPIRED", "the session has expired; sign in again")
    user = db_session.get(User, session.user_id)
    if user is None or not user.is_active:
        raise SessionRejected("INVALID_TOKEN", "user no longer exists or is disabled")
    session.last_used_at = now
    return session, user


def session_access_ttl(session: AuthSession) -> timedelta:
    """Access tokens from a session live 15 minutes at most, and never beyond the session."""
    return min(SESSION_ACCESS_TTL, session.expires_at - datetime.now(UTC))


def revoke_session(*, db_session: Session, settings: Settings, token: str) -> AuthSession | None:
    """Revoke the session a token names (an expired token still names its row). Idempotent; None when the token
    names no session."""
    claims = _session_claims(token, settings=settings, verify_exp=False)
    session = _load_session(db_session, claims)
    if session is not None and session.revoked_at is None:
        session.revoked_at = datetime.now(UTC)
    return session


def end_all_sessions(*, db_session: Session, user_id: uuid.UUID) -> None:
    """Every sign-in session of the user ends (a password reset)."""
    db_session.execute(update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
                       .values(revoked_at=datetime.now(UTC)))


def sign_out_token(*, db_session: Session, claims: dict, organization_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The presented access token is refused from now on (`bind_token_user` checks its jti), until it would have
    expired anyway."""
    jti = str(claims.get("jti") or "")
    if not jti:
        return
    db_session.execute(insert(RevokedToken).values(
        jti=jti, organization_id=organization_id, user_id=user_id,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC)).on_conflict_do_nothing())


def purge_revoked_tokens(*, db_session: Session, now: datetime) -> int:
    """Forget signed-out tokens that have expired anyway, in every organization (a definer function)."""
    return db_session.scalar(text("select app.purge_revoked_tokens(:now)"), {"now": now}) or 0
