"""Signing in to the dashboards with SSO: the identity provider sends the browser back with `?sso_code=`, the
sign-in page exchanges it through the API for a revocable session; a bad code is a clear message, not a crash."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from serving.main import create_app
from tests.conftest import ROOT, make_settings
from tests.dashboards.apptest import open_page
from tests.factories import unique_email
from tests.live_server import live_server
from tests.serving.sso import oidc_provider
from tests.serving.sso.saml_idp import SamlIdp

ENTRY = str(ROOT / "dashboards" / "streamlit_app.py")


@pytest.fixture(scope="module")
def oidc():
    with oidc_provider.running() as state:
        yield state


@pytest.fixture(scope="module")
def api(database, state_dir) -> Iterator[str]:
    settings = make_settings(database, state_dir, SSO_ALLOW_PRIVATE_IDP="true")
    with live_server(create_app(settings)) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVORC_API_URL", url)
        yield url


def test_sign_in_with_an_sso_code(api, tenant, oidc):
    provider = httpx.post(f"{api}/api/v1/sso/providers", headers=tenant.admin.headers, json={
        "name": "Keycloak", "protocol": "oidc", "clientSecret": oidc_provider.CLIENT_SECRET,
        "config": {"issuer": oidc.issuer, "clientId": oidc_provider.CLIENT_ID}}).json()
    email = unique_email("sso-page")
    oidc.user = {"sub": "page-1", "email": email, "name": "Page User"}
    start = httpx.get(f"{api}/api/v1/auth/sso/{provider['id']}/login")
    callback = oidc.authorize(start.headers["location"])
    code = httpx.get(f"{api}{urlparse(callback).path}?{urlparse(callback).query}").json()["code"]
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.query_params["sso_code"] = code
    at.run()
    at.switch_page("app_pages/notifications.py").run()  # a page that needs no marts
    assert not at.exception, [e.value for e in at.exception]
    assert any(email in m.value for m in at.sidebar.markdown)


def test_a_bad_sso_code_says_so(api):
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.query_params["sso_code"] = "00000000-0000-0000-0000-000000000000.nothing-here"
    at.run()
    assert any("Single sign-on did not complete" in e.value for e in at.error)



def test_admins_add_a_saml_provider_share_its_link_and_enforce_sso(api, tenant):
    idp = SamlIdp()
    at = open_page(tenant.admin, "sso")
    assert any("No identity provider yet" in i.value for i in at.info)
    at.text_input(key="saml_name").set_value("Okta")
    at.text_input(key="saml_entity").set_value("https://idp.example.com/metadata")
    at.text_input(key="saml_url").set_value("https://idp.example.com/sso")
    at.text_area(key="saml_cert").set_value(idp.cert_pem)
    next(b for b in at.button if b.label == "Add SAML provider").click().run()
    assert not at.exception and at.success[0].value == "Okta added."
    providers = httpx.get(f"{api}/api/v1/sso/providers", headers=tenant.admin.headers).json()["data"]
    link = providers[0]["serviceProvider"]["dashboardsLoginUrl"]
    assert urlparse(link).path == f"/api/v1/auth/sso/{providers[0]['id']}/login"
    assert urlparse(link).query == "returnTo=http%3A%2F%2F127.0.0.1%3A8501%2F"  # back to the dashboards, signed in
    assert any(c.value == link for c in at.code)  # the link to share is on the page
    at.toggle[0].set_value(True)
    next(b for b in at.button if b.label == "Save").click().run()
    assert at.success[0].value == "Single sign-on required."
    enforced = httpx.get(f"{api}/api/v1/sso/settings", headers=tenant.admin.headers).json()
    assert enforced == {"enforced": True, "breakGlassUserIds": [str(tenant.admin.id)]}  # the admin kept a way in


def test_the_sso_page_is_an_admins_only(api, tenant):
    at = open_page(tenant.user, "today")
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a member's navigation
        at.switch_page("app_pages/sso.py")
    assert not open_page(tenant.admin, "sso").exception
