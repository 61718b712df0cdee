"""/sso (admins): identity providers and enforcement. /auth/sso (public, under the sign-in rate limit): start a
sign-in, the SAML metadata and assertion consumer, the OIDC callback, and the one-time code exchange."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic.alias_generators import to_camel

from serving.auth.schemas import TokenResponse, UserOut
from serving.core.deps import AdminPrincipal, AppSettings, DbSession, client_ip
from serving.core.security import create_access_token
from serving.sso import service
from serving.sso.models import SsoProvider
from serving.sso.schemas import (
    ExchangeIn,
    LoginCode,
    ProviderIn,
    ProviderList,
    ProviderOut,
    ServiceProviderInfo,
    SsoSettings,
)

router = APIRouter()
public_router = APIRouter()
ReturnTo = Annotated[str | None, Query(alias="returnTo", max_length=2000,
                                       description="a dashboards page to come back to with `sso_code`")]


def _camel(values: dict) -> dict:
    """Stored with the models' field names; shown like every other API field."""
    return {to_camel(k): v for k, v in values.items()}


def _out(settings, provider: SsoProvider) -> ProviderOut:
    urls = service.sp_urls(settings, provider.id)
    return ProviderOut(
        id=provider.id, name=provider.name, protocol=provider.protocol, enabled=provider.enabled,
        config=_camel(provider.config), has_client_secret=provider.client_secret is not None,
        attribute_mapping=_camel(provider.attribute_mapping), role_mapping=provider.role_mapping,
        default_role=provider.default_role, jit_provisioning=provider.jit_provisioning,
        allowed_domains=provider.allowed_domains, created_at=provider.created_at, updated_at=provider.updated_at,
        service_provider=ServiceProviderInfo(**vars(urls)))


@router.get("/providers", response_model=ProviderList, summary="The organization's identity providers")
def list_providers(db: DbSession, principal: AdminPrincipal, settings: AppSettings):
    return ProviderList(data=[_out(settings, p) for p in service.list_providers(db_session=db)])


@router.post("/providers", response_model=ProviderOut, status_code=201,
             summary="Add a SAML 2.0 or OpenID Connect provider (what to register at the IdP is in the answer)")
def create_provider(body: ProviderIn, db: DbSession, principal: AdminPrincipal, settings: AppSettings):
    return _out(settings, service.save_provider(db_session=db, settings=settings, principal=principal, body=body))


@router.put("/providers/{provider_id}", response_model=ProviderOut, summary="Replace a provider's settings")
def update_provider(provider_id: uuid.UUID, body: ProviderIn, db: DbSession, principal: AdminPrincipal,
                    settings: AppSettings):
    return _out(settings, service.save_provider(db_session=db, settings=settings, principal=principal, body=body,
                                                provider_id=provider_id))


@router.delete("/providers/{provider_id}", status_code=204, response_class=Response, summary="Remove a provider")
def delete_provider(provider_id: uuid.UUID, db: DbSession, principal: AdminPrincipal) -> Response:
    service.delete_provider(db_session=db, principal=principal, provider_id=provider_id)
    return Response(status_code=204)


@router.get("/settings", response_model=SsoSettings, summary="Whether SSO is enforced, and the break-glass admins")
def get_settings(db: DbSession, principal: AdminPrincipal):
    return SsoSettings.model_validate(service.get_enforcement(db_session=db, organization_id=principal.organization_id))


@router.put("/settings", response_model=SsoSettings,
            summary="Enforce SSO (password sign-in refused except for break-glass admins) or stop enforcing it")
def put_settings(body: SsoSettings, db: DbSession, principal: AdminPrincipal):
    return SsoSettings.model_validate(service.set_enforcement(
        db_session=db, principal=principal, enforced=body.enforced, break_glass_user_ids=body.break_glass_user_ids))


# -- public: the sign-in itself --------------------------------------------------------------------------------


@public_router.get("/{provider_id}/login", status_code=302, response_class=RedirectResponse,
                   summary="Start a sign-in: redirects to the identity provider")
def login(provider_id: uuid.UUID, db: DbSession, settings: AppSettings, return_to: ReturnTo = None):
    provider = service.provider_for_sign_in(db, provider_id)
    return RedirectResponse(service.start(db_session=db, settings=settings, provider=provider, return_to=return_to),
                            status_code=302)


@public_router.get("/{provider_id}/saml/metadata", response_class=Response,
                   summary="This service provider's SAML metadata (to register at the IdP)")
def saml_metadata(provider_id: uuid.UUID, db: DbSession, settings: AppSettings) -> Response:
    provider = service.provider_for_sign_in(db, provider_id)
    return Response(service.metadata(settings, provider), media_type="application/samlmetadata+xml")


def _finish(state, code: str):
    target = service.redirect_after(state, code)
    if target:
        return RedirectResponse(target, status_code=303)
    return LoginCode(code=code, expires_at=state.login_code_expires_at)


@public_router.post("/{provider_id}/saml/acs", response_model=LoginCode,
                    summary="SAML assertion consumer (HTTP-POST binding): redirects back with a one-time code")
async def saml_acs(provider_id: uuid.UUID, request: Request, db: DbSession, settings: AppSettings):
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    provider = service.provider_for_sign_in(db, provider_id)
    state, code = service.finish_saml(db_session=db, settings=settings, provider=provider, form=form,
                                      ip=client_ip(request), request_id=request.state.request_id)
    return _finish(state, code)


@public_router.get("/{provider_id}/oidc/callback", response_model=LoginCode,
                   summary="OpenID Connect / OAuth 2.0 redirect URI: redirects back with a one-time code")
def oidc_callback(provider_id: uuid.UUID, request: Request, db: DbSession, settings: AppSettings):
    params = {k: v[:4000] for k, v in request.query_params.items()}
    provider = service.provider_for_sign_in(db, provider_id)
    state, code = service.finish_oidc(db_session=db, settings=settings, provider=provider, params=params,
                                      ip=client_ip(request), request_id=request.state.request_id)
    return _finish(state, code)


@public_router.post("/exchange", response_model=TokenResponse, summary="Exchange a one-time SSO code for a JWT")
def exchange(body: ExchangeIn, db: DbSession, settings: AppSettings) -> TokenResponse:
    user = service.exchange(db_session=db, code=body.code)
    token, expires_at = create_access_token(settings=settings, user_id=user.id, organization_id=user.organization_id,
                                            role=user.role)
    return TokenResponse(access_token=token, expires_at=expires_at, user=UserOut.model_validate(user))
