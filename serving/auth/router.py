"""POST /auth/login and GET /auth/me."""

from __future__ import annotations

from fastapi import APIRouter

from serving.audit import service as audit
from serving.auth import service
from serving.auth.schemas import LoginRequest, TokenResponse, UserOut
from serving.core.deps import AppSettings, CurrentPrincipal, DbSession
from serving.core.errors import NotFound, Unauthorized
from serving.core.security import create_access_token
from serving.users.models import User

router = APIRouter()


@router.post("/login", response_model=TokenResponse, summary="Exchange e-mail and password for a JWT")
def login(body: LoginRequest, db: DbSession, settings: AppSettings) -> TokenResponse:
    user = service.authenticate(db_session=db, email=body.email, password=body.password)
    if user is None:
        raise Unauthorized("invalid e-mail or password", code="INVALID_CREDENTIALS")
    token, expires_at = create_access_token(
        settings=settings, user_id=user.id, organization_id=user.organization_id, role=user.role
    )
    audit.record(db_session=db, principal=None, organization_id=user.organization_id, action="login",
                 entity_type="user", entity_id=user.id)
    return TokenResponse(access_token=token, expires_at=expires_at, user=UserOut.model_validate(user))


@router.get("/me", response_model=UserOut, summary="The authenticated user")
def me(db: DbSession, principal: CurrentPrincipal) -> UserOut:
    user = db.get(User, principal.user_id)
    if user is None:
        raise NotFound("user", principal.user_id)
    return UserOut.model_validate(user)
