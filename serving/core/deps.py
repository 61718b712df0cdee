"""Request dependencies: settings, the tenant-scoped database session and the authenticated principal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.core.config import Settings
from serving.core.db import session_factory, set_tenant, tenant_session
from serving.core.errors import Forbidden, Unauthorized
from serving.core.principal import Principal, role_scopes
from serving.core.security import InvalidToken, decode_access_token, hash_api_key, looks_like_api_key
from serving.users.models import User


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


def _db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed after the handler returns, rolled back on error."""
    session: Session = request.app.state.session_factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit is an error response.
DbSession = Annotated[Session, Depends(_db_session, scope="function")]

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _authenticate(request: Request, db: DbSession, settings: AppSettings) -> Principal:
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if not api_key and scheme.lower() == "bearer" and looks_like_api_key(credential.strip()):
        api_key = credential.strip()
    if api_key:
        principal = _principal_from_api_key(request, db, api_key.strip())
    elif scheme.lower() == "bearer" and credential.strip():
        principal = _principal_from_token(request, db, settings, credential.strip())
    else:
        raise Unauthorized("authentication required: send a Bearer token or an X-API-Key header",
                           headers=_BEARER_CHALLENGE)
    request.state.principal = principal
    return principal


def _principal_from_token(request: Request, db: Session, settings: Settings, token: str) -> Principal:
    try:
        claims = decode_access_token(token, settings=settings)
    except InvalidToken as exc:
        code = "TOKEN_EXPIRED" if exc.reason == "token expired" else "INVALID_TOKEN"
        raise Unauthorized(exc.reason, code=code, headers=_BEARER_CHALLENGE) from None
    set_tenant(db, claims["org"])
    user = db.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.is_active:
        raise Unauthorized("user no longer exists or is disabled", code="INVALID_TOKEN", headers=_BEARER_CHALLENGE)
    return Principal(
        organization_id=user.organization_id, user_id=user.id, role=user.role, team_id=user.team_id,
        ip_address=client_ip(request), request_id=getattr(request.state, "request_id", None),
    )


def _principal_from_api_key(request: Request, db: Session, secret: str) -> Principal:
    row = db.execute(
        text("select * from app.authenticate_api_key(:key_hash)"), {"key_hash": hash_api_key(secret)}
    ).mappings().first()
    if row is None:
        raise Unauthorized("invalid API key", code="INVALID_API_KEY")
    if row["status"] == "revoked":
        raise Unauthorized("API key has been revoked", code="API_KEY_REVOKED")
    if row["status"] == "expired" or (row["expires_at"] and row["expires_at"] <= datetime.now(UTC)):
        raise Unauthorized("API key has expired", code="API_KEY_EXPIRED")
    if not row["user_active"]:
        raise Unauthorized("the API key's user is disabled", code="INVALID_API_KEY")
    set_tenant(db, row["organization_id"])
    _count_api_key_use(request, row["organization_id"], row["id"])
    return Principal(
        organization_id=row["organization_id"], user_id=row["user_id"], role=row["user_role"],
        team_id=row["team_id"], api_key_id=row["id"], key_scopes=frozenset(row["scopes"] or ()),
        ip_address=client_ip(request), request_id=getattr(request.state, "request_id", None),
    )


USAGE_POOL_SIZE = 2


def _count_api_key_use(request: Request, organization_id: uuid.UUID, api_key_id: uuid.UUID) -> None:
    # Its own short transaction: counting must not hold a row lock on the key for a whole request.
    # And its own pool: the request already holds a connection, and taking a second one from the same
    # pool deadlocks once every connection is held by a request waiting for another.
    settings: Settings = request.app.state.settings
    factory = session_factory(settings.api_database_url, USAGE_POOL_SIZE, "api-key-usage")
    with tenant_session(factory, organization_id) as session:
        session.execute(
            text(
                "update app.api_keys set request_count = request_count + 1, last_used_at = now() "
                "where id = :id"
            ),
            {"id": api_key_id},
        )
        session.execute(
            text(
                "insert into app.api_key_usage_daily (api_key_id, day, organization_id, request_count) "
                "values (:id, current_date, :org, 1) on conflict (api_key_id, day) "
                "do update set request_count = app.api_key_usage_daily.request_count + 1"
            ),
            {"id": api_key_id, "org": organization_id},
        )


CurrentPrincipal = Annotated[Principal, Depends(_authenticate)]


def require(scope: str):
    """Declare the permission a route needs; viewers hold only read scopes."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if principal.can(scope):
            return principal
        if principal.key_scopes is not None and scope in role_scopes(principal.role):
            raise Forbidden(f"this API key lacks the '{scope}' scope", code="INSUFFICIENT_SCOPE",
                            details={"requiredScope": scope, "keyScopes": sorted(principal.key_scopes)})
        raise Forbidden(f"the '{principal.role}' role cannot perform this action",
                        code="INSUFFICIENT_ROLE", details={"requiredScope": scope, "role": principal.role})

    return Depends(_check)


def _require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("only admins can perform this action", code="INSUFFICIENT_ROLE",
                        details={"requiredRole": "admin", "role": principal.role})
    return principal


AdminPrincipal = Annotated[Principal, Depends(_require_admin)]


def _require_interactive(principal: CurrentPrincipal) -> Principal:
    if principal.api_key_id is not None:
        raise Forbidden("this action needs a user session (Bearer token), not an API key", code="FORBIDDEN")
    return principal


InteractivePrincipal = Annotated[Principal, Depends(_require_interactive)]
