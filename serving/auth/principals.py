"""Who is calling: the request's Bearer token or API key resolved to a Principal.

It needs the users table and the API-key lookup, so it lives here and not in core; `create_app` wires
`authenticate_request` in as core.deps' `Authenticator`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.api_keys import usage
from serving.core.config import Settings
from serving.core.db import mark_tenant, set_tenant
from serving.core.deps import client_ip
from serving.core.errors import Forbidden, Unauthorized
from serving.core.fast_read import AuthPlan
from serving.core.principal import Principal
from serving.core.security import InvalidToken, decode_access_token, hash_api_key, looks_like_api_key
from serving.users.models import User

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


_BIND_TOKEN_USER = "select * from app.bind_token_user(:org, :sub, :jti)"
# The forms `core.fast_read` runs just before its read (psycopg placeholders). An API key binds the tenant only
# when it is accepted, so the read after it sees nothing under a revoked, expired or unknown key (whose answer
# is refused anyway).
_FAST_READ_TOKEN_USER = "select * from app.bind_token_user(%s, %s, %s)"
# What a user whose organization requires two-factor sign-in may still do before enrolling: their own settings
# (enrolment among them), and sign out.
_BEFORE_TWO_FACTOR = ("/api/v1/me/", "/api/v1/auth/me", "/api/v1/auth/logout", "/api/v1/auth/sessions")
_FAST_READ_API_KEY = """
select k.*, case when k.status = 'active' and k.user_active and (k.expires_at is null or k.expires_at > now())
                 then set_config('app.organization_id', k.organization_id::text, true) end as bound
from app.authenticate_api_key(%s) k
"""


def _credentials(request: Request) -> tuple[str, str]:
    """("api_key", secret) or ("token", jwt) from X-API-Key or the Bearer header; Unauthorized when neither."""
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if not api_key and scheme.lower() == "bearer" and looks_like_api_key(credential.strip()):
        api_key = credential.strip()
    if api_key:
        return "api_key", api_key.strip()
    if scheme.lower() == "bearer" and credential.strip():
        return "token", credential.strip()
    raise Unauthorized("authentication required: send a Bearer token or an X-API-Key header",
                       headers=_BEARER_CHALLENGE)


def authenticate_request(request: Request, db: Session, settings: Settings) -> Principal:
    """The principal behind the request's X-API-Key or Bearer credential; Unauthorized when there is none."""
    kind, credential = _credentials(request)
    if kind == "api_key":
        return principal_from_api_key(request, db, credential)
    return _principal_from_token(request, db, settings, credential)


def plan_authentication(request: Request, settings: Settings) -> AuthPlan:
    """`authenticate_request` for `core.fast_read`: the same checks, its one statement sent with the read (the
    token's signature and expiry are checked here, before any database work)."""
    kind, credential = _credentials(request)
    if kind == "api_key":
        return AuthPlan(_FAST_READ_API_KEY, (hash_api_key(credential),),
                        lambda row: _api_key_principal(request, row))
    organization_id, user_id, jti = _token_claims(settings, credential)
    return AuthPlan(_FAST_READ_TOKEN_USER, (organization_id, user_id, jti),
                    lambda row: _token_user_principal(request, row))


def _principal_from_token(request: Request, db: Session, settings: Settings, token: str) -> Principal:
    organization_id, user_id, jti = _token_claims(settings, token)
    # One round trip binds the transaction to the token's organization and reads the user's current role, team
    # and status (migrations 0010, 0031): the role comes from the database on every request, never from the
    # token; a signed-out token and a missing required second factor are answered in the same call.
    user = db.execute(text(_BIND_TOKEN_USER), {"org": organization_id, "sub": user_id, "jti": jti}).mappings().first()
    mark_tenant(db, organization_id)
    return _token_user_principal(request, user)


def _token_claims(settings: Settings, token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    """The token's (organization, user, jti) once its signature, expiry and shape are checked (no database)."""
    try:
        claims = decode_access_token(token, settings=settings)
    except InvalidToken as exc:
        code = "TOKEN_EXPIRED" if exc.reason == "token expired" else "INVALID_TOKEN"
        raise Unauthorized(exc.reason, code=code, headers=_BEARER_CHALLENGE) from None
    try:
        return uuid.UUID(str(claims["org"])), uuid.UUID(str(claims["sub"])), str(claims.get("jti") or "")
    except (KeyError, ValueError):
        raise Unauthorized("malformed token", code="INVALID_TOKEN", headers=_BEARER_CHALLENGE) from None


def _token_user_principal(request: Request, user: Mapping[str, Any] | None) -> Principal:
    if user is None or not user["is_active"]:
        raise Unauthorized("user no longer exists or is disabled", code="INVALID_TOKEN", headers=_BEARER_CHALLENGE)
    if user["token_revoked"]:
        raise Unauthorized("this token was signed out: sign in again", code="TOKEN_REVOKED",
                           headers=_BEARER_CHALLENGE)
    if user["two_factor_missing"] and not request.url.path.startswith(_BEFORE_TWO_FACTOR):
        raise Forbidden("your organization requires two-factor sign-in: set it up first (POST "
                        "/api/v1/me/two-factor/enroll)", code="TWO_FACTOR_ENROLLMENT_REQUIRED")
    return Principal(
        organization_id=user["organization_id"], user_id=user["user_id"], role=user["role"],
        team_id=user["team_id"], ip_address=client_ip(request),
        request_id=getattr(request.state, "request_id", None),
    )


def principal_from_api_key(request: Request, db: Session, secret: str) -> Principal:
    """The principal an API key acts as (also the Segment write key), binding the transaction to its tenant."""
    row = db.execute(
        text("select * from app.authenticate_api_key(:key_hash)"), {"key_hash": hash_api_key(secret)}
    ).mappings().first()
    principal = _api_key_principal(request, row)
    set_tenant(db, principal.organization_id)
    return principal


def _api_key_principal(request: Request, row: Mapping[str, Any] | None) -> Principal:
    """The principal of an `app.authenticate_api_key` row; Unauthorized for an unknown, revoked or expired key.
    Each accepted use is counted."""
    if row is None:
        raise Unauthorized("invalid API key", code="INVALID_API_KEY")
    if row["status"] == "revoked":
        raise Unauthorized("API key has been revoked", code="API_KEY_REVOKED")
    if row["status"] == "expired" or (row["expires_at"] and row["expires_at"] <= datetime.now(UTC)):
        raise Unauthorized("API key has expired", code="API_KEY_EXPIRED")
    if not row["user_active"]:
        raise Unauthorized("the API key's user is disabled", code="INVALID_API_KEY")
    _count_api_key_use(request, row["organization_id"], row["id"])
    return Principal(
        organization_id=row["organization_id"], user_id=row["user_id"], role=row["user_role"],
        team_id=row["team_id"], api_key_id=row["id"], key_scopes=frozenset(row["scopes"] or ()),
        ip_address=client_ip(request), request_id=getattr(request.state, "request_id", None),
    )


def signing_in(request: Request, user: User) -> Principal:
    """The user as the actor of signing in or out, before or without an access token."""
    return Principal(
        organization_id=user.organization_id, user_id=user.id, role=user.role, team_id=user.team_id,
        ip_address=client_ip(request), request_id=getattr(request.state, "request_id", None),
    )


def _count_api_key_use(request: Request, organization_id: uuid.UUID, api_key_id: uuid.UUID) -> None:
    # Counted in memory and written about once a second in batches (serving/api_keys/usage.py): no transaction
    # and no row lock per request. The app keeps its counter: finding it by settings parses the database URL,
    # about 0.5 ms a request (profiled).
    state = request.app.state
    counter = getattr(state, "api_key_usage", None)
    if counter is None:
        counter = state.api_key_usage = usage.counter(state.settings)
    counter.count(organization_id, api_key_id)
