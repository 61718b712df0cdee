"""Request dependencies: settings, the tenant-scoped database session and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from serving.core.config import Settings
from serving.core.errors import Forbidden
from serving.core.permissions import role_scopes
from serving.core.principal import Principal


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


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class Authenticator(Protocol):
    """Resolves a request's credentials to a Principal, or raises Unauthorized.

    Resolving needs the users and API-key tables, which belong to domains that core must not import; the app
    factory sets the implementation (`serving.auth.principals.authenticate_request`) on `app.state.authenticator`.
    """

    def __call__(self, request: Request, db: Session, settings: Settings) -> Principal: ...


def _authenticate(request: Request, db: DbSession, settings: AppSettings) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator(request, db, settings)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_authenticate)]


def check_scope(principal: Principal, scope: str) -> Principal:
    """The principal if it holds `scope`; Forbidden naming the missing key scope or role otherwise."""
    if principal.can(scope):
        return principal
    if principal.key_scopes is not None and scope in role_scopes(principal.role):
        raise Forbidden(f"this API key lacks the '{scope}' scope", code="INSUFFICIENT_SCOPE",
                        details={"requiredScope": scope, "keyScopes": sorted(principal.key_scopes)})
    raise Forbidden(f"the '{principal.role}' role cannot perform this action",
                    code="INSUFFICIENT_ROLE", details={"requiredScope": scope, "role": principal.role})


def require(scope: str):
    """Declare the permission a route needs; viewers hold only read scopes."""

    def _check(principal: CurrentPrincipal) -> Principal:
        return check_scope(principal, scope)

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
