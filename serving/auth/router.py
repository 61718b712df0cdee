"""POST /auth/login (with the second factor when the user has one), POST /auth/logout, GET /auth/me and the
revocable sign-in sessions (/auth/sessions…)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from serving.audit import service as audit
from serving.auth import service
from serving.auth.principals import signing_in
from serving.auth.schemas import LoginRequest, SessionResponse, SessionTokenRequest, TokenResponse, UserOut
from serving.core.deps import AppSettings, CurrentPrincipal, DbSession, InteractivePrincipal
from serving.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from serving.core.security import create_access_token, decode_access_token
from serving.organizations import service as organizations
from serving.users import two_factor

router = APIRouter()


@router.post("/login", response_model=TokenResponse, summary="Exchange e-mail and password for a JWT")
def login(body: LoginRequest, request: Request, db: DbSession, settings: AppSettings) -> TokenResponse:
    user = service.authenticate(db_session=db, email=body.email, password=body.password)
    if user is None:
        raise Unauthorized("invalid e-mail or password", code="INVALID_CREDENTIALS")
    if organizations.password_sign_in_refused(db_session=db, organization_id=user.organization_id, user_id=user.id,
                                              role=user.role):
        raise Forbidden("this organization signs in with single sign-on: use your identity provider",
                        code="SSO_REQUIRED")
    if user.totp_enabled_at is not None:
        two_factor.check_second_factor(db_session=db, settings=settings, user=user, code=body.totp_code)
    token, expires_at = create_access_token(
        settings=settings, user_id=user.id, organization_id=user.organization_id, role=user.role
    )
    audit.record(db_session=db, principal=signing_in(request, user), action="login", entity_type="user",
                 entity_id=user.id)
    return TokenResponse(access_token=token, expires_at=expires_at, user=UserOut.model_validate(user))


@router.post("/logout", status_code=204, response_class=Response,
             summary="Sign out the access token this request carries: refused from now on (idempotent)")
def logout(request: Request, db: DbSession, settings: AppSettings, principal: CurrentPrincipal) -> Response:
    if principal.api_key_id is not None:
        raise ValidationFailed("an API key is not signed out: revoke it (DELETE /api-keys/{id})",
                               code="NOT_A_SIGN_IN")
    claims = decode_access_token(request.headers["authorization"].partition(" ")[2].strip(), settings=settings)
    service.sign_out_token(db_session=db, claims=claims, organization_id=principal.organization_id,
                           user_id=principal.user_id)
    audit.record(db_session=db, principal=principal, action="logout", entity_type="user", entity_id=principal.user_id)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, summary="The authenticated user")
def me(db: DbSession, principal: CurrentPrincipal) -> UserOut:
    user = service.get_user(db_session=db, user_id=principal.user_id)
    if user is None:
        raise NotFound("user", principal.user_id)
    return UserOut.model_validate(user)


@router.post("/sessions", response_model=SessionResponse, status_code=201,
             summary="Start a revocable sign-in session for the signed-in user (keeps a browser signed in)")
def start_session(db: DbSession, settings: AppSettings, principal: InteractivePrincipal) -> SessionResponse:
    session, token = service.create_session(db_session=db, settings=settings, user_id=principal.user_id,
                                            organization_id=principal.organization_id)
    return SessionResponse(session_token=token, expires_at=session.expires_at)


@router.post("/sessions/refresh", response_model=TokenResponse,
             summary="Exchange a live session token for a short-lived access token",
             responses={401: {"description": "SESSION_EXPIRED, SESSION_REVOKED or INVALID_TOKEN"}})
def refresh_session(body: SessionTokenRequest, db: DbSession, settings: AppSettings) -> TokenResponse:
    try:
        session, user = service.resume_session(db_session=db, settings=settings, token=body.session_token)
    except service.SessionRejected as exc:
        raise Unauthorized(exc.message, code=exc.code) from None
    token, expires_at = create_access_token(settings=settings, user_id=user.id, organization_id=user.organization_id,
                                            role=user.role, expires_in=service.session_access_ttl(session))
    return TokenResponse(access_token=token, expires_at=expires_at, user=UserOut.model_validate(user))


@router.post("/sessions/revoke", status_code=204, response_class=Response,
             summary="Sign a session out: its token is refused from now on (idempotent)",
             responses={401: {"description": "INVALID_TOKEN"}})
def revoke_session(body: SessionTokenRequest, request: Request, db: DbSession, settings: AppSettings) -> Response:
    try:
        session = service.revoke_session(db_session=db, settings=settings, token=body.session_token)
    except service.SessionRejected as exc:
        raise Unauthorized(exc.message, code=exc.code) from None
    # The session's user signs out (holding its token); the user row outlives its sessions (they cascade).
    user = service.get_user(db_session=db, user_id=session.user_id) if session is not None else None
    if user is not None:
        audit.record(db_session=db, principal=signing_in(request, user), action="logout", entity_type="user",
                     entity_id=user.id)
    return Response(status_code=204)
