"""Single sign-on against identity providers running in the tests: a SAML IdP signing with signxml (our side
verifies with xmlsec through python3-saml) and an OpenID Connect provider signing ID tokens with joserfc. Happy
paths with just-in-time provisioning and attribute mapping, each attack refused with a clear code, enforced SSO
with a break-glass admin, the audit log, and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from serving.main import create_app
from serving.users.models import User
from tests.conftest import make_settings
from tests.factories import PASSWORD, unique_email
from tests.serving.sso import oidc_provider
from tests.serving.sso.saml_idp import SamlIdp

API = "/api/v1/sso"
AUTH = "/api/v1/auth/sso"
DASHBOARDS = "http://127.0.0.1:8501/"


@pytest.fixture(scope="module")
def sso_client(database, state_dir):
    settings = make_settings(database, state_dir, PUBLIC_API_URL="http://api.revorc.test", SSO_ALLOW_PRIVATE_IDP="true")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def oidc():
    with oidc_provider.running() as state:
        yield state


@pytest.fixture
def idp() -> SamlIdp:
    return SamlIdp()


def add_saml(client, tenant, idp: SamlIdp, **extra) -> dict:
    body = {"name": f"Okta {idp.cert_body[-8:]}", "protocol": "saml",
            "config": {"idpEntityId": idp.entity_id, "idpSsoUrl": idp.sso_url, "idpX509Cert": idp.cert_pem,
                       **extra.pop("config", {})},
            "attributeMapping": {"fullName": "displayName", "role": "groups", "team": "team"},
            "roleMapping": {"revorc-admins": "admin"}, **extra}
    response = client.post(f"{API}/providers", json=body, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def add_oidc(client, tenant, oidc, **extra) -> dict:
    body = {"name": "Keycloak", "protocol": "oidc", "clientSecret": oidc_provider.CLIENT_SECRET,
            "config": {"issuer": oidc.issuer, "clientId": oidc_provider.CLIENT_ID}, **extra}
    response = client.post(f"{API}/providers", json=body, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def saml_start(client, provider: dict) -> tuple[str, str, str]:
    response = client.get(f"{AUTH}/{provider['id']}/login", params={"returnTo": DASHBOARDS})
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith("https://idp.example.test/saml/sso?SAMLRequest=")
    return SamlIdp.read_request(response.headers["location"])


def saml_post(client, provider: dict, saml_response: str, relay: str | None):
    form = {"SAMLResponse": saml_response, **({"RelayState": relay} if relay else {})}
    return client.post(f"{AUTH}/{provider['id']}/saml/acs", data=form)


def code_from(response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(DASHBOARDS)
    return parse_qs(urlparse(location).query)["sso_code"][0]


def exchange(client, code: str):
    return client.post(f"{AUTH}/exchange", json={"code": code})


def error(response) -> str:
    return response.json()["error"]["code"]


# -- SAML ------------------------------------------------------------------------------------------------------


def test_saml_sign_in_provisions_the_user_with_mapped_attributes(sso_client, tenant, idp, owner_session):
    provider = add_saml(sso_client, tenant, idp)
    assert provider["serviceProvider"]["acsUrl"] == f"http://api.revorc.test{AUTH}/{provider['id']}/saml/acs"
    metadata = sso_client.get(f"{AUTH}/{provider['id']}/saml/metadata")
    assert "AssertionConsumerService" in metadata.text and provider["serviceProvider"]["acsUrl"] in metadata.text
    request_id, acs, relay = saml_start(sso_client, provider)
    assert acs == provider["serviceProvider"]["acsUrl"]
    email = unique_email("saml")
    answer = idp.response(acs_url=acs, audience=provider["serviceProvider"]["entityId"], in_response_to=request_id,
                          email=email, attributes={"displayName": ["Ada Lovelace"], "groups": ["revorc-admins"],
                                                   "team": ["Sales"]})
    tokens = exchange(sso_client, code_from(saml_post(sso_client, provider, answer, relay)))
    assert tokens.status_code == 200, tokens.text
    me = sso_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens.json()['accessToken']}"})
    assert (me.json()["email"], me.json()["fullName"], me.json()["role"]) == (email, "Ada Lovelace", "admin")
    assert me.json()["organizationId"] == str(tenant.organization_id)
    assert me.json()["teamId"] == str(tenant.team_id)
    owner_session.rollback()
    assert owner_session.scalar(text(
        "select action from app.audit_log where organization_id = :o and entity_id = :u"),
        {"o": tenant.organization_id, "u": me.json()["id"]}) == "sso.user_provisioned"


@pytest.mark.parametrize("attack, expected", [
    ({"tamper_email": "ceo@victim.example"}, "Signature validation failed"),
    ({"audience": "https://someone-else.example/sp"}, "is not a valid audience"),
    ({"now": datetime.now(UTC) - timedelta(minutes=30)}, "expired"),
])
def test_saml_attacks_are_refused(sso_client, tenant, idp, attack, expected):
    provider = add_saml(sso_client, tenant, idp)
    request_id, acs, relay = saml_start(sso_client, provider)
    kwargs = {"acs_url": acs, "audience": provider["serviceProvider"]["entityId"], "in_response_to": request_id,
              "email": unique_email("victim"), **attack}
    refused = saml_post(sso_client, provider, idp.response(**kwargs), relay)
    assert (refused.status_code, error(refused)) == (401, "SAML_INVALID"), refused.text
    assert expected.lower() in refused.json()["error"]["message"].lower()


def test_saml_signed_by_another_key_is_refused(sso_client, tenant, idp):
    provider = add_saml(sso_client, tenant, idp)
    request_id, acs, relay = saml_start(sso_client, provider)
    impostor = SamlIdp()
    answer = impostor.response(acs_url=acs, audience=provider["serviceProvider"]["entityId"],
                               in_response_to=request_id, email=unique_email("x"))
    assert error(saml_post(sso_client, provider, answer, relay)) == "SAML_INVALID"


def test_a_replayed_saml_response_is_refused(sso_client, tenant, idp):
    provider = add_saml(sso_client, tenant, idp)
    request_id, acs, relay = saml_start(sso_client, provider)
    answer = idp.response(acs_url=acs, audience=provider["serviceProvider"]["entityId"], in_response_to=request_id,
                          email=unique_email("replay"))
    code_from(saml_post(sso_client, provider, answer, relay))
    again = saml_post(sso_client, provider, answer, relay)
    assert (again.status_code, error(again)) == (401, "SSO_STATE_REUSED")


def test_idp_initiated_only_when_allowed_and_each_assertion_once(sso_client, tenant, idp):
    strict = add_saml(sso_client, tenant, idp)
    unsolicited = idp.response(acs_url=strict["serviceProvider"]["acsUrl"],
                               audience=strict["serviceProvider"]["entityId"], in_response_to=None,
                               email=unique_email("idp"))
    assert error(saml_post(sso_client, strict, unsolicited, None)) == "SSO_STATE_INVALID"
    open_idp = SamlIdp()
    relaxed = add_saml(sso_client, tenant, open_idp, config={"allowIdpInitiated": True})
    answer = open_idp.response(acs_url=relaxed["serviceProvider"]["acsUrl"],
                               audience=relaxed["serviceProvider"]["entityId"], in_response_to=None,
                               email=unique_email("idp"))
    first = saml_post(sso_client, relaxed, answer, None)
    assert first.status_code == 200 and first.json()["code"]
    replay = saml_post(sso_client, relaxed, answer, None)
    assert (replay.status_code, error(replay)) == (401, "SAML_REPLAYED")


# -- OpenID Connect ---------------------------------------------------------------------------------------------


def oidc_sign_in(client, provider: dict, oidc, claims: dict):
    oidc.user = claims
    start = client.get(f"{AUTH}/{provider['id']}/login", params={"returnTo": DASHBOARDS})
    assert start.status_code == 302, start.text
    query = parse_qs(urlparse(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    return client.get(oidc.authorize(start.headers["location"]))


def test_oidc_sign_in_with_pkce_and_a_verified_id_token(sso_client, tenant, oidc):
    provider = add_oidc(sso_client, tenant, oidc)
    assert provider["config"]["tokenEndpoint"] == f"{oidc.issuer}/token"  # from discovery
    assert provider["hasClientSecret"] and "clientSecret" not in provider
    email = unique_email("oidc")
    oidc.id_token_changes = {}
    tokens = exchange(sso_client, code_from(oidc_sign_in(sso_client, provider, oidc,
                                                         {"sub": "u-1", "email": email, "name": "Grace Hopper"})))
    assert tokens.status_code == 200, tokens.text
    assert (tokens.json()["user"]["email"], tokens.json()["user"]["role"]) == (email, "user")
    assert oidc.token_requests[-1]["code_verifier"]  # PKCE: the verifier went to the token endpoint


@pytest.mark.parametrize("changes, rogue", [
    ({"aud": "someone-else"}, False),
    ({"exp": 1_000_000_000}, False),
    ({"nonce": "not-the-one-we-sent"}, False),
    ({"iss": "https://evil.example"}, False),
    ({}, True),
])
def test_oidc_id_token_attacks_are_refused(sso_client, tenant, oidc, changes, rogue):
    provider = add_oidc(sso_client, tenant, oidc, name=f"Keycloak {len(changes)}{rogue}")
    oidc.id_token_changes, oidc.sign_with_rogue = changes, rogue
    try:
        refused = oidc_sign_in(sso_client, provider, oidc, {"sub": "u-2", "email": unique_email("attack")})
    finally:
        oidc.id_token_changes, oidc.sign_with_rogue = {}, False
    assert (refused.status_code, error(refused)) == (401, "OIDC_ID_TOKEN_INVALID"), refused.text


def test_oidc_state_is_single_use_and_codes_too(sso_client, tenant, oidc):
    provider = add_oidc(sso_client, tenant, oidc, name="Keycloak once")
    oidc.user = {"sub": "u-3", "email": unique_email("once")}
    start = sso_client.get(f"{AUTH}/{provider['id']}/login")
    callback = oidc.authorize(start.headers["location"])
    first = sso_client.get(callback)
    assert first.status_code == 200
    again = sso_client.get(callback)
    assert error(again) == "SSO_STATE_REUSED"
    code = first.json()["code"]
    assert exchange(sso_client, code).status_code == 200
    assert error(exchange(sso_client, code)) == "SSO_CODE_INVALID"
    assert error(exchange(sso_client, "not-a-provider.abcdefghijk")) == "SSO_CODE_INVALID"


# -- accounts, enforcement, tenancy -----------------------------------------------------------------------------


def test_a_user_of_another_organization_and_unknown_users_without_jit(sso_client, tenant, other_tenant, oidc):
    provider = add_oidc(sso_client, tenant, oidc, name="Keycloak strict", jitProvisioning=False)
    elsewhere = oidc_sign_in(sso_client, provider, oidc, {"sub": "u-4", "email": other_tenant.user.email})
    assert (elsewhere.status_code, error(elsewhere)) == (403, "SSO_ACCOUNT_ELSEWHERE")
    unknown = oidc_sign_in(sso_client, provider, oidc, {"sub": "u-5", "email": unique_email("stranger")})
    assert (unknown.status_code, error(unknown)) == (403, "SSO_USER_UNKNOWN")
    known = oidc_sign_in(sso_client, provider, oidc, {"sub": "u-6", "email": tenant.user.email})
    assert exchange(sso_client, known.headers["location"].split("sso_code=")[1]).json()["user"]["id"] == str(
        tenant.user.id)


def test_enforced_sso_refuses_passwords_except_break_glass_admins(sso_client, tenant, idp):
    add_saml(sso_client, tenant, idp)
    refused = sso_client.put(f"{API}/settings", json={"enforced": True}, headers=tenant.admin.headers)
    assert error(refused) == "BREAK_GLASS_REQUIRED"
    not_admin = sso_client.put(f"{API}/settings", json={"enforced": True, "breakGlassUserIds": [str(tenant.user.id)]},
                               headers=tenant.admin.headers)
    assert not_admin.status_code == 422
    ok = sso_client.put(f"{API}/settings", json={"enforced": True, "breakGlassUserIds": [str(tenant.admin.id)]},
                        headers=tenant.admin.headers)
    assert ok.json() == {"enforced": True, "breakGlassUserIds": [str(tenant.admin.id)]}
    login = "/api/v1/auth/login"
    user = sso_client.post(login, json={"email": tenant.user.email, "password": PASSWORD})
    assert (user.status_code, error(user)) == (403, "SSO_REQUIRED")
    assert sso_client.post(login, json={"email": tenant.admin.email, "password": PASSWORD}).status_code == 200
    sso_client.put(f"{API}/settings", json={"enforced": False}, headers=tenant.admin.headers)
    assert sso_client.post(login, json={"email": tenant.user.email, "password": PASSWORD}).status_code == 200


def test_only_admins_manage_providers_and_organizations_stay_apart(sso_client, tenant, other_tenant, idp):
    provider = add_saml(sso_client, tenant, idp)
    assert sso_client.get(f"{API}/providers", headers=tenant.user.headers).status_code == 403
    assert sso_client.get(f"{API}/providers", headers=other_tenant.admin.headers).json()["data"] == []
    assert sso_client.delete(f"{API}/providers/{provider['id']}",
                             headers=other_tenant.admin.headers).status_code == 404
    body = {"name": "hijack", "protocol": "saml", "config": {"idpEntityId": "x", "idpSsoUrl": "https://x.example/",
                                                             "idpX509Cert": idp.cert_pem}}
    assert sso_client.put(f"{API}/providers/{provider['id']}", json=body,
                          headers=other_tenant.admin.headers).status_code == 404
    assert sso_client.get(f"{API}/providers", headers=tenant.admin.headers).json()["data"][0]["name"].startswith(
        "Okta")


def test_bad_provider_settings_are_clear_errors(sso_client, tenant):
    saml = sso_client.post(f"{API}/providers", headers=tenant.admin.headers, json={
        "name": "broken", "protocol": "saml", "config": {"idpEntityId": "x", "idpSsoUrl": "not a url",
                                                         "idpX509Cert": "x" * 200}})
    assert saml.status_code == 422
    metadata_ip = sso_client.post(f"{API}/providers", headers=tenant.admin.headers, json={
        "name": "ssrf", "protocol": "oidc", "clientSecret": "s",
        "config": {"issuer": "http://169.254.169.254/latest", "clientId": "c"}})
    assert (metadata_ip.status_code, error(metadata_ip)) == (422, "UNSAFE_URL")
    bad_return = sso_client.post(f"{API}/providers", headers=tenant.admin.headers, json={
        "name": "no secret", "protocol": "oidc", "config": {"issuer": "https://accounts.example", "clientId": "c",
                                                            "authorizationEndpoint": "https://accounts.example/a",
                                                            "tokenEndpoint": "https://accounts.example/t",
                                                            "jwksUri": "https://accounts.example/k"}})
    assert bad_return.status_code == 422


def test_return_to_must_be_ours(sso_client, tenant, idp):
    provider = add_saml(sso_client, tenant, idp)
    refused = sso_client.get(f"{AUTH}/{provider['id']}/login", params={"returnTo": "https://evil.example/steal"})
    assert refused.status_code == 422


def test_provisioned_users_have_no_password(sso_client, tenant, oidc, owner_session):
    provider = add_oidc(sso_client, tenant, oidc, name="Keycloak nopw")
    email = unique_email("nopw")
    code_from(oidc_sign_in(sso_client, provider, oidc, {"sub": "u-7", "email": email}))
    owner_session.rollback()
    assert owner_session.scalar(select(User.password_hash).where(User.email == email)) is None
