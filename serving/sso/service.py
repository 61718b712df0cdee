"""Single sign-on: SAML 2.0 (python3-saml: signatures checked with xmlsec, audience, recipient/destination,
validity window, InResponseTo) and OpenID Connect / OAuth 2.0 (authlib: authorization code + PKCE S256; the ID
token checked with joserfc against the provider's JWKS: signature, issuer, audience, expiry, nonce).

Every sign-in starts here (`start`): a state row, single use and valid ten minutes, binds the IdP's answer to
the sign-in that asked for it. A SAML assertion is accepted once (`sso_assertions`); a state is consumed once. A
successful sign-in yields a one-time code (two minutes) that the client exchanges for its tokens, so no token ever
travels in a URL. Users are matched by e-mail within the provider's organization and created on first sign-in
when just-in-time provisioning is on, with the name, team and role the attribute mapping reads; every SSO sign-in
is in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.audit import service as audit
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import AppError, Forbidden, NotFound, Unauthorized, ValidationFailed
from serving.core.principal import Principal
from serving.core.sealing import seal, unseal
from serving.organizations import service as organizations
from serving.organizations.models import Team
from serving.sso.models import Protocol, SsoAssertion, SsoLoginState, SsoProvider
from serving.sso.schemas import ProviderIn
from serving.users import service as users
from serving.users.models import User
from serving.webhooks import targets

STATE_TTL = timedelta(minutes=10)
CODE_TTL = timedelta(minutes=2)
PURPOSE = "sso-client-secrets"
HTTP_TIMEOUT = 10.0
SAML_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
SAML_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


class SsoRefused(AppError):
    """The identity provider's answer was not accepted; `code` says why (a clear, specific reason)."""

    status_code = 401
    code = "SSO_REFUSED"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- URLs the identity provider is told ------------------------------------------------------------------------


def base_url(settings: Settings) -> str:
    return (settings.public_api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


@dataclass(frozen=True)
class SpUrls:
    entity_id: str
    acs_url: str
    metadata_url: str
    redirect_uri: str
    login_url: str
    dashboards_login_url: str


def sp_urls(settings: Settings, provider_id: uuid.UUID) -> SpUrls:
    root = f"{base_url(settings)}/api/v1/auth/sso/{provider_id}"
    back_to = urlencode({"returnTo": settings.dashboards_url.rstrip("/") + "/"})
    return SpUrls(entity_id=f"{root}/saml/metadata", acs_url=f"{root}/saml/acs", metadata_url=f"{root}/saml/metadata",
                  redirect_uri=f"{root}/oidc/callback", login_url=f"{root}/login",
                  dashboards_login_url=f"{root}/login?{back_to}")


# -- administration ------------------------------------------------------------------------------------------------


def list_providers(*, db_session: Session) -> list[SsoProvider]:
    return list(db_session.scalars(select(SsoProvider).order_by(SsoProvider.created_at, SsoProvider.id)))


def get_provider(*, db_session: Session, provider_id: uuid.UUID) -> SsoProvider:
    provider = db_session.get(SsoProvider, provider_id)
    if provider is None:
        raise NotFound("SSO provider", provider_id)
    return provider


def _check_urls(settings: Settings, config: dict) -> None:
    for field in ("idp_sso_url", "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                  "userinfo_endpoint"):
        if config.get(field) and field != "idp_sso_url" and field != "authorization_endpoint":
            # fetched by this server: the SSRF rules of outbound webhooks apply (the browser visits the others)
            try:
                targets.check(config[field], allow_private=settings.sso_allow_private_idp)
            except targets.UnsafeTarget as exc:
                raise ValidationFailed(f"config.{field}: {exc}", code="UNSAFE_URL",
                                       details={"field": f"config.{_camel(field)}"}) from None


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def _discover(settings: Settings, config: dict) -> dict:
    """Fill an OIDC provider's endpoints from its discovery document when they are not given."""
    if config.get("token_endpoint") and config.get("authorization_endpoint") and (
            config.get("jwks_uri") or not config.get("id_token", True)):
        return config
    url = config["issuer"].rstrip("/") + "/.well-known/openid-configuration"
    try:
        targets.check(url, allow_private=settings.sso_allow_private_idp)
        document = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False).raise_for_status().json()
    except (targets.UnsafeTarget, httpx.HTTPError, ValueError) as exc:
        raise ValidationFailed(f"the provider's discovery document could not be read ({url}): {exc}",
                               code="OIDC_DISCOVERY_FAILED", details={"field": "config.issuer"}) from None
    if str(document.get("issuer", "")).rstrip("/") != config["issuer"].rstrip("/"):
        raise ValidationFailed("the discovery document names another issuer", code="OIDC_DISCOVERY_FAILED",
                               details={"field": "config.issuer", "found": document.get("issuer")})
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        config.setdefault(field, None)
        config[field] = config[field] or document.get(field)
    return config


def save_provider(*, db_session: Session, settings: Settings, principal: Principal, body: ProviderIn,
                  provider_id: uuid.UUID | None = None) -> SsoProvider:
    config = dict(body.config)
    if body.protocol == Protocol.oidc:
        _check_urls(settings, config)
        config = _discover(settings, config)
        _check_urls(settings, config)
    else:
        try:
            OneLogin_Saml2_Settings(_saml_settings(settings, uuid.uuid4(), config), sp_validation_only=False)
        except Exception as exc:  # python3-saml raises its own error types for a bad certificate or URL
            raise ValidationFailed(f"the SAML settings are not usable: {exc}", code="INVALID_SAML_CONFIG",
                                   details={"field": "config"}) from None
    provider = (get_provider(db_session=db_session, provider_id=provider_id) if provider_id else
                SsoProvider(organization_id=principal.organization_id, created_by=principal.user_id))
    provider.name, provider.protocol, provider.enabled, provider.config = (
        body.name, body.protocol, body.enabled, config)
    provider.attribute_mapping = body.attribute_mapping.model_dump(exclude_none=True)
    provider.role_mapping, provider.default_role = body.role_mapping, body.default_role
    provider.jit_provisioning, provider.allowed_domains = body.jit_provisioning, body.allowed_domains
    if body.client_secret:
        provider.client_secret = seal(settings, body.client_secret, purpose=PURPOSE)
    if provider.protocol == Protocol.oidc and not provider.client_secret:
        raise ValidationFailed("an OIDC provider needs its clientSecret", code="VALIDATION_ERROR",
                               details={"field": "clientSecret"})
    provider.updated_at = utcnow()
    if provider_id is None:
        db_session.add(provider)
    db_session.flush()
    audit.record(db_session=db_session, principal=principal, action="sso.provider_saved", entity_type="sso_provider",
                 entity_id=provider.id, changes={"name": provider.name, "protocol": provider.protocol,
                                                 "enabled": provider.enabled})
    return provider


def delete_provider(*, db_session: Session, principal: Principal, provider_id: uuid.UUID) -> None:
    provider = get_provider(db_session=db_session, provider_id=provider_id)
    db_session.delete(provider)
    audit.record(db_session=db_session, principal=principal, action="sso.provider_deleted",
                 entity_type="sso_provider", entity_id=provider_id)


def get_enforcement(*, db_session: Session, organization_id: uuid.UUID) -> dict:
    found = organizations.get_settings_section(db_session=db_session, organization_id=organization_id, key="sso")
    return found or {"enforced": False, "breakGlassUserIds": []}


def set_enforcement(*, db_session: Session, principal: Principal, enforced: bool,
                    break_glass_user_ids: list[uuid.UUID]) -> dict:
    ids = list(dict.fromkeys(break_glass_user_ids))
    admins = set(db_session.scalars(select(User.id).where(User.id.in_(ids), User.role == "admin",
                                                          User.is_active.is_(True))))
    if set(ids) - admins:
        raise ValidationFailed("break-glass users must be active admins of this organization",
                               code="VALIDATION_ERROR", details={"field": "breakGlassUserIds",
                                                                 "notAdmins": sorted(map(str, set(ids) - admins))})
    if enforced:
        if not ids:
            raise ValidationFailed("name at least one break-glass admin before enforcing SSO: if the identity "
                                   "provider is down, they can still sign in", code="BREAK_GLASS_REQUIRED",
                                   details={"field": "breakGlassUserIds"})
        if not any(p.enabled for p in list_providers(db_session=db_session)):
            raise ValidationFailed("enable an SSO provider before enforcing SSO", code="NO_SSO_PROVIDER")
    value = {"enforced": enforced, "breakGlassUserIds": [str(i) for i in ids]}
    organizations.set_settings_section(db_session=db_session, organization_id=principal.organization_id, key="sso",
                                       value=value)
    audit.record(db_session=db_session, principal=principal, action="sso.enforcement_changed",
                 entity_type="organization", entity_id=principal.organization_id, changes=value)
    return value


# -- sign-in ---------------------------------------------------------------------------------------------------


def provider_for_sign_in(db_session: Session, provider_id: uuid.UUID) -> SsoProvider:
    """The enabled provider, with the transaction bound to its organization (the routes have no tenant yet)."""
    organization_id = db_session.scalar(text("select app.sso_provider_organization(:p)"), {"p": provider_id})
    if organization_id is None:
        raise NotFound("SSO provider", provider_id)
    set_tenant(db_session, organization_id)
    return db_session.get(SsoProvider, provider_id)


def _saml_settings(settings: Settings, provider_id: uuid.UUID, config: dict) -> dict:
    urls = sp_urls(settings, provider_id)
    return {
        "strict": True, "debug": False,
        "sp": {"entityId": urls.entity_id, "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
               "assertionConsumerService": {"url": urls.acs_url, "binding": SAML_POST}},
        "idp": {"entityId": config["idp_entity_id"], "x509cert": config["idp_x509_cert"],
                "singleSignOnService": {"url": config["idp_sso_url"], "binding": SAML_REDIRECT}},
        "security": {"wantAssertionsSigned": config.get("want_assertions_signed", True),
                     "rejectDeprecatedAlgorithm": True, "requestedAuthnContext": False},
    }


def _saml_request_data(settings: Settings, provider_id: uuid.UUID, post: dict | None = None) -> dict:
    # Built from our configured ACS URL, not from the request's Host header: the response's Destination and
    # Recipient must name the URL we registered at the IdP, whatever proxy the request came through.
    acs = urlsplit(sp_urls(settings, provider_id).acs_url)
    return {"https": "on" if acs.scheme == "https" else "off", "http_host": acs.hostname,
            "server_port": str(acs.port or (443 if acs.scheme == "https" else 80)), "script_name": acs.path,
            "get_data": {}, "post_data": post or {}}


def metadata(settings: Settings, provider: SsoProvider) -> str:
    if provider.protocol != Protocol.saml:
        raise NotFound("SAML provider", provider.id)
    found = OneLogin_Saml2_Settings(_saml_settings(settings, provider.id, provider.config),
                                    sp_validation_only=True).get_sp_metadata()
    return found.decode() if isinstance(found, bytes) else found


def start(*, db_session: Session, settings: Settings, provider: SsoProvider, return_to: str | None) -> str:
    """The URL the browser goes to at the identity provider."""
    if return_to and not allowed_return(settings, return_to):
        raise ValidationFailed("returnTo must be a page of this installation's dashboards or an allowed origin",
                               code="VALIDATION_ERROR", details={"field": "returnTo"})
    state = secrets.token_urlsafe(32)
    row = SsoLoginState(organization_id=provider.organization_id, provider_id=provider.id, state_hash=_hash(state),
                        return_to=return_to, expires_at=utcnow() + STATE_TTL)
    if provider.protocol == Protocol.saml:
        auth = OneLogin_Saml2_Auth(_saml_request_data(settings, provider.id),
                                   _saml_settings(settings, provider.id, provider.config))
        url = auth.login(return_to=state)  # RelayState carries our state
        row.saml_request_id = auth.get_last_request_id()
    else:
        config = provider.config
        verifier, nonce = secrets.token_urlsafe(64), secrets.token_urlsafe(24)
        client = OAuth2Session(config["client_id"], scope=" ".join(config["scopes"]),
                               redirect_uri=sp_urls(settings, provider.id).redirect_uri,
                               code_challenge_method="S256")
        params = {"nonce": nonce} if config.get("id_token", True) else {}
        url, _ = client.create_authorization_url(config["authorization_endpoint"], state=state,
                                                 code_verifier=verifier, **params)
        row.nonce, row.code_verifier = nonce, seal(settings, verifier, purpose=PURPOSE)
    db_session.add(row)
    return url


def allowed_return(settings: Settings, url: str) -> bool:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {o.rstrip("/") for o in settings.allowed_origins}
    dashboards = urlsplit(settings.dashboards_url)
    allowed.add(f"{dashboards.scheme}://{dashboards.netloc}")
    return parts.scheme in ("http", "https") and origin in allowed


def _consume_state(db_session: Session, provider: SsoProvider, state: str | None) -> SsoLoginState:
    row = db_session.scalar(select(SsoLoginState).where(
        SsoLoginState.state_hash == _hash(state or ""), SsoLoginState.provider_id == provider.id).with_for_update())
    if row is None:
        raise SsoRefused("this sign-in was not started here (unknown state)", code="SSO_STATE_INVALID")
    if row.consumed_at is not None:
        raise SsoRefused("this sign-in was already completed: start again", code="SSO_STATE_REUSED")
    if row.expires_at <= utcnow():
        raise SsoRefused("this sign-in took too long: start again", code="SSO_STATE_EXPIRED")
    row.consumed_at = utcnow()
    return row


def finish_saml(*, db_session: Session, settings: Settings, provider: SsoProvider, form: dict[str, str],
                ip: str | None, request_id: str | None) -> tuple[SsoLoginState, str]:
    relay = form.get("RelayState")
    if relay:
        state = _consume_state(db_session, provider, relay)
    elif provider.config.get("allow_idp_initiated"):
        # IdP-initiated: nothing here asked for it, so only the assertion-id replay check stands between a captured
        # response and a second sign-in — which is why this is off unless an admin turns it on.
        state = SsoLoginState(organization_id=provider.organization_id, provider_id=provider.id,
                              state_hash=_hash(secrets.token_urlsafe(32)), expires_at=utcnow(),
                              consumed_at=utcnow())
        db_session.add(state)
    else:
        raise SsoRefused("unsolicited SAML responses are not accepted by this provider", code="SSO_STATE_INVALID")
    auth = OneLogin_Saml2_Auth(_saml_request_data(settings, provider.id, form),
                               _saml_settings(settings, provider.id, provider.config))
    try:
        auth.process_response(request_id=state.saml_request_id)
    except Exception as exc:  # malformed XML / base64: python3-saml raises before validating
        raise SsoRefused(f"the SAML response could not be read: {exc}", code="SAML_INVALID") from None
    if auth.get_errors() or not auth.is_authenticated():
        raise SsoRefused(f"the SAML response was refused: {auth.get_last_error_reason() or auth.get_errors()}",
                         code="SAML_INVALID", details={"errors": auth.get_errors()})
    assertion_id = auth.get_last_assertion_id()
    expires = auth.get_last_assertion_not_on_or_after()
    recorded = db_session.execute(insert(SsoAssertion).values(
        provider_id=provider.id, assertion_id=assertion_id, organization_id=provider.organization_id,
        expires_at=datetime.fromtimestamp(expires, utcnow().tzinfo) if expires else utcnow() + STATE_TTL,
    ).on_conflict_do_nothing().returning(SsoAssertion.assertion_id)).first()
    if recorded is None:
        raise SsoRefused("this SAML assertion was already used (replay)", code="SAML_REPLAYED")
    attributes = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in auth.get_attributes().items()}
    email = _claim(attributes, provider.attribute_mapping.get("email")) or auth.get_nameid()
    user = _sign_in(db_session, provider, email=email, claims=attributes, ip=ip, request_id=request_id)
    return state, _issue_code(state, user)


def finish_oidc(*, db_session: Session, settings: Settings, provider: SsoProvider, params: dict[str, str],
                ip: str | None, request_id: str | None) -> tuple[SsoLoginState, str]:
    state = _consume_state(db_session, provider, params.get("state"))
    if params.get("error"):
        raise SsoRefused(f"the provider refused the sign-in: {params['error']} {params.get('error_description', '')}"
                         .strip(), code="OIDC_ERROR")
    if not params.get("code"):
        raise SsoRefused("the provider sent no authorization code", code="OIDC_ERROR")
    config = provider.config
    for field in ("token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if config.get(field):
            targets.check(config[field], allow_private=settings.sso_allow_private_idp)
    client = OAuth2Session(config["client_id"], unseal(settings, provider.client_secret, purpose=PURPOSE),
                           redirect_uri=sp_urls(settings, provider.id).redirect_uri)
    try:
        tokens = client.fetch_token(config["token_endpoint"], code=params["code"], timeout=HTTP_TIMEOUT,
                                    code_verifier=unseal(settings, state.code_verifier, purpose=PURPOSE))
    except Exception as exc:  # authlib raises OAuthError for error bodies, requests errors for transport
        raise SsoRefused(f"the code could not be exchanged at the provider: {exc}", code="OIDC_TOKEN_FAILED") from None
    claims: dict[str, Any] = {}
    if config.get("id_token", True):
        claims = _verified_id_token(config, tokens.get("id_token"), nonce=state.nonce)
    if config.get("userinfo_endpoint") and (not claims or not _claim(claims, _email_claim(provider))):
        try:
            info = httpx.get(config["userinfo_endpoint"], timeout=HTTP_TIMEOUT, follow_redirects=False,
                             headers={"Authorization": f"Bearer {tokens['access_token']}"}).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoRefused(f"the provider's userinfo could not be read: {exc}", code="OIDC_USERINFO_FAILED") from None
        if claims and info.get("sub") != claims.get("sub"):
            raise SsoRefused("userinfo names another subject than the ID token", code="OIDC_ID_TOKEN_INVALID")
        claims = {**info, **claims}
    if config.get("id_token", True) and claims.get("email_verified") is False:
        raise SsoRefused("the provider has not verified this e-mail address", code="SSO_EMAIL_UNVERIFIED")
    user = _sign_in(db_session, provider, email=_claim(claims, _email_claim(provider)), claims=claims, ip=ip,
                    request_id=request_id)
    return state, _issue_code(state, user)


def _email_claim(provider: SsoProvider) -> str:
    return provider.attribute_mapping.get("email") or "email"


def _verified_id_token(config: dict, id_token: str | None, *, nonce: str | None) -> dict:
    if not id_token:
        raise SsoRefused("the provider returned no ID token", code="OIDC_ID_TOKEN_INVALID")
    try:
        keys = httpx.get(config["jwks_uri"], timeout=HTTP_TIMEOUT, follow_redirects=False).raise_for_status().json()
        token = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": config["issuer"]},
            aud={"essential": True, "value": config["client_id"]}, exp={"essential": True},
            nonce={"essential": True, "value": nonce}, sub={"essential": True},
        ).validate(token.claims)
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoRefused(f"the provider's keys could not be read: {exc}", code="OIDC_JWKS_FAILED") from None
    except JoseError as exc:
        raise SsoRefused(f"the ID token was refused: {exc.description or exc.error}",
                         code="OIDC_ID_TOKEN_INVALID") from None
    return dict(token.claims)


def _claim(claims: dict, name: str | None) -> Any:
    if not name:
        return None
    value = claims.get(name)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _sign_in(db_session: Session, provider: SsoProvider, *, email: Any, claims: dict, ip: str | None,
             request_id: str | None) -> User:
    if not isinstance(email, str) or "@" not in email:
        raise SsoRefused("the identity provider sent no e-mail address for this user", code="SSO_NO_EMAIL")
    email = email.strip().lower()
    if provider.allowed_domains and email.rsplit("@", 1)[1] not in provider.allowed_domains:
        raise Forbidden(f"{email} is not in a domain this provider may sign in", code="SSO_DOMAIN_NOT_ALLOWED")
    mapping = provider.attribute_mapping
    full_name = _claim(claims, mapping.get("full_name") or "name")
    role_value = _claim(claims, mapping.get("role")) if mapping.get("role") else None
    role = provider.role_mapping.get(str(role_value), None) if role_value is not None else None
    team_name = _claim(claims, mapping.get("team")) if mapping.get("team") else None
    team_id = db_session.scalar(select(Team.id).where(Team.name == str(team_name))) if team_name else None
    found = db_session.execute(text("select id, organization_id, is_active from app.authenticate_user(:e)"),
                               {"e": email}).first()
    if found is not None and found.organization_id != provider.organization_id:
        raise Forbidden("this e-mail belongs to a user of another organization", code="SSO_ACCOUNT_ELSEWHERE")
    if found is not None and not found.is_active:
        raise Forbidden("this user is deactivated in this organization", code="USER_DEACTIVATED")
    if found is None:
        if not provider.jit_provisioning:
            raise Forbidden(f"{email} has no account here and this provider does not create accounts",
                            code="SSO_USER_UNKNOWN")
        user = users.create_user(db_session=db_session, organization_id=provider.organization_id, email=email,
                                 password=None, role=role or provider.default_role,
                                 full_name=full_name if isinstance(full_name, str) else None, team_id=team_id)
        action = "sso.user_provisioned"
    else:
        user = db_session.get(User, found.id)
        action = "sso.login"
    users.sync_from_identity_provider(db_session=db_session, user=user, role=role,
                                      full_name=full_name if isinstance(full_name, str) else None, team_id=team_id)
    actor = Principal(organization_id=user.organization_id, user_id=user.id, role=user.role, team_id=user.team_id,
                      ip_address=ip, request_id=request_id)
    audit.record(db_session=db_session, principal=actor, action=action, entity_type="user", entity_id=user.id,
                 changes={"provider": str(provider.id), "protocol": provider.protocol})
    return user


def _issue_code(state: SsoLoginState, user: User) -> str:
    code = secrets.token_urlsafe(32)
    state.user_id, state.login_code_hash = user.id, _hash(code)
    state.login_code_expires_at = utcnow() + CODE_TTL
    # the provider id tells the exchange which organization to bind before looking the code up
    return f"{state.provider_id}.{code}"


def redirect_after(state: SsoLoginState, code: str) -> str | None:
    if not state.return_to:
        return None
    glue = "&" if "?" in state.return_to else "?"
    return f"{state.return_to}{glue}{urlencode({'sso_code': code})}"


def exchange(*, db_session: Session, code: str) -> User:
    provider_part, _, secret = code.partition(".")
    try:
        provider_id = uuid.UUID(provider_part)
    except ValueError:
        raise Unauthorized("this sign-in code is not valid", code="SSO_CODE_INVALID") from None
    organization_id = db_session.scalar(text("select app.sso_provider_organization(:p)"), {"p": provider_id})
    if organization_id is None:
        raise Unauthorized("this sign-in code is not valid", code="SSO_CODE_INVALID")
    set_tenant(db_session, organization_id)
    row = db_session.scalar(select(SsoLoginState).where(SsoLoginState.login_code_hash == _hash(secret))
                            .with_for_update())
    if row is None or row.login_code_used_at is not None or row.login_code_expires_at <= utcnow():
        raise Unauthorized("this sign-in code is not valid, expired or was already used", code="SSO_CODE_INVALID")
    row.login_code_used_at = utcnow()
    user = db_session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("this user can no longer sign in", code="SSO_CODE_INVALID")
    return user
