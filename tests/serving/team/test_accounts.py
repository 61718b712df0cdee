"""Self-serve accounts: sign up → confirm the address → sign in; a password reset that says nothing about who
exists, works once and expires; signing out a token; TOTP two-factor enrolled, required at sign-in, each code
once, recovery codes, and an organization that requires it; a user's preferences kept by the domains they belong
to."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import update

from serving.core.clock import utcnow
from serving.notifications import preferences as notification_preferences
from serving.organizations.models import Organization
from serving.team.models import AccountToken
from tests.conftest import make_settings
from tests.factories import PASSWORD, unique_email
from tests.serving.team.mail import link_token, mails_to

API = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signup(client, email, password="a-long-password", name="Founders Inc"):
    return client.post(f"{API}/auth/signup", json={"organizationName": name, "email": email, "password": password,
                                                   "fullName": "Fay Founder"})


def test_sign_up_confirm_the_address_then_invite(client, settings, owner_session):
    email = unique_email("founder")
    created = signup(client, email)
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["accessToken"]
    org = owner_session.get(Organization, body["user"]["organizationId"])
    assert org.name == "Founders Inc" and org.plan == "free" and body["user"]["role"] == "admin"
    # unverified: the account works, inviting waits for a confirmed address
    assert client.get(f"{API}/prospects", headers=bearer(token)).status_code == 200
    refused = client.post(f"{API}/team/invite", json={"email": unique_email("friend")}, headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"
    [mail] = mails_to(settings, org.id, email)
    verify = link_token(mail, "verify")
    assert client.post(f"{API}/auth/verify-email", json={"token": verify}).status_code == 200
    assert client.get(f"{API}/me/profile", headers=bearer(token)).json()["emailVerified"] is True
    used = client.post(f"{API}/auth/verify-email", json={"token": verify})
    assert used.status_code == 422 and used.json()["error"]["code"] == "LINK_USED"
    assert client.post(f"{API}/team/invite", json={"email": unique_email("friend")},
                       headers=bearer(token)).status_code == 201
    assert client.post(f"{API}/auth/login", json={"email": email, "password": "a-long-password"}).status_code == 200


def test_sign_up_refuses_a_taken_address_a_short_password_and_can_be_turned_off(client, database, state_dir,
                                                                                 tenant):
    taken = signup(client, tenant.user.email)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "DUPLICATE_EMAIL"
    assert signup(client, unique_email("short"), password="short").status_code == 422
    from fastapi.testclient import TestClient

    from serving.main import create_app
    with TestClient(create_app(make_settings(database, state_dir, SIGNUP_ENABLED="false"))) as closed:
        off = signup(closed, unique_email("nope"))
    assert off.status_code == 403 and off.json()["error"]["code"] == "SIGNUP_DISABLED"


def test_a_password_reset_works_once_expires_and_reveals_nobody(client, tenant, settings, owner_session):
    unknown = client.post(f"{API}/auth/password/forgot", json={"email": unique_email("ghost")})
    known = client.post(f"{API}/auth/password/forgot", json={"email": tenant.user.email})
    assert unknown.status_code == known.status_code == 202 and unknown.json() == known.json()
    session = client.post(f"{API}/auth/sessions", headers=tenant.user.headers).json()["sessionToken"]
    token = link_token(mails_to(settings, tenant.organization_id, tenant.user.email)[-1], "reset")
    assert client.post(f"{API}/auth/password/reset", json={"token": token, "password": "short"}).status_code == 422
    reset = client.post(f"{API}/auth/password/reset", json={"token": token, "password": "brand-new-password"})
    assert reset.status_code == 200, reset.text
    assert client.post(f"{API}/auth/login", json={"email": tenant.user.email, "password": PASSWORD}).status_code == 401
    assert client.post(f"{API}/auth/login", json={"email": tenant.user.email,
                                                 "password": "brand-new-password"}).status_code == 200
    # the browser session from before the reset is over
    assert client.post(f"{API}/auth/sessions/refresh", json={"sessionToken": session}).status_code == 401
    again = client.post(f"{API}/auth/password/reset", json={"token": token, "password": "another-password"})
    assert again.json()["error"]["code"] in ("LINK_USED", "INVALID_LINK")

    client.post(f"{API}/auth/password/forgot", json={"email": tenant.user.email})
    late = link_token(mails_to(settings, tenant.organization_id, tenant.user.email)[-1], "reset")
    with owner_session.begin():
        owner_session.execute(update(AccountToken).where(AccountToken.used_at.is_(None),
                                                         AccountToken.organization_id == tenant.organization_id)
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.post(f"{API}/auth/password/reset", json={"token": late, "password": "another-password"})
    assert expired.status_code == 422 and expired.json()["error"]["code"] == "LINK_EXPIRED"


def test_sign_out_revokes_the_token_it_carries_only(client, tenant):
    first = client.post(f"{API}/auth/login", json={"email": tenant.user.email, "password": PASSWORD}).json()
    second = client.post(f"{API}/auth/login", json={"email": tenant.user.email, "password": PASSWORD}).json()
    assert client.post(f"{API}/auth/logout", headers=bearer(first["accessToken"])).status_code == 204
    refused = client.get(f"{API}/prospects", headers=bearer(first["accessToken"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_REVOKED"
    # the fast read path checks it too
    assert client.get(f"{API}/prospects/00000000-0000-0000-0000-000000000000",
                      headers=bearer(first["accessToken"])).status_code == 401
    assert client.get(f"{API}/prospects", headers=bearer(second["accessToken"])).status_code == 200


def enrol(client, member) -> pyotp.TOTP:
    enrolment = client.post(f"{API}/me/two-factor/enroll", headers=member.headers).json()
    assert enrolment["provisioningUri"].startswith("otpauth://totp/") and "<svg" in enrolment["qrCodeSvg"]
    totp = pyotp.TOTP(enrolment["secret"])
    wrong = client.post(f"{API}/me/two-factor/confirm", json={"code": "000000"}, headers=member.headers)
    assert wrong.status_code == 422
    confirmed = client.post(f"{API}/me/two-factor/confirm", json={"code": totp.now()}, headers=member.headers)
    assert confirmed.status_code == 200
    codes = confirmed.json()["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    member.recovery = codes
    return totp


def login(client, member, code=None):
    body = {"email": member.email, "password": PASSWORD, **({"totpCode": code} if code else {})}
    return client.post(f"{API}/auth/login", json=body)


def test_two_factor_sign_in_each_code_once_and_recovery_codes(client, tenant):
    totp = enrol(client, tenant.user)
    missing = login(client, tenant.user)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "TWO_FACTOR_REQUIRED"
    assert login(client, tenant.user, "123456").json()["error"]["code"] == "INVALID_TWO_FACTOR_CODE"
    # confirming used the current step; the next step's code (within the drift window) signs in once
    code = totp.at(utcnow() + timedelta(seconds=30))
    assert login(client, tenant.user, code).status_code == 200
    reused = login(client, tenant.user, code)
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "TWO_FACTOR_CODE_REUSED"
    recovery = tenant.user.recovery[0]
    assert login(client, tenant.user, recovery).status_code == 200
    assert login(client, tenant.user, recovery).status_code == 401  # used up
    status = client.get(f"{API}/me/two-factor", headers=tenant.user.headers).json()
    assert status["enabled"] is True and status["recoveryCodesLeft"] == 9
    off = client.post(f"{API}/me/two-factor/disable", json={"code": tenant.user.recovery[1]},
                      headers=tenant.user.headers)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert login(client, tenant.user).status_code == 200


def test_an_organization_can_require_two_factor(client, tenant):
    early = client.put(f"{API}/team/settings", json={"requireTwoFactor": True}, headers=tenant.admin.headers)
    assert early.status_code == 403 and early.json()["error"]["code"] == "TWO_FACTOR_NOT_ON"
    enrol(client, tenant.admin)
    assert client.put(f"{API}/team/settings", json={"requireTwoFactor": True},
                      headers=tenant.admin.headers).status_code == 200
    blocked = client.get(f"{API}/prospects", headers=tenant.user.headers)
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "TWO_FACTOR_ENROLLMENT_REQUIRED"
    assert client.get(f"{API}/me/two-factor", headers=tenant.user.headers).json()["requiredByOrganization"] is True
    enrol(client, tenant.user)
    assert client.get(f"{API}/prospects", headers=tenant.user.headers).status_code == 200
    kept = client.post(f"{API}/me/two-factor/disable", json={"code": tenant.user.recovery[0]},
                       headers=tenant.user.headers)
    assert kept.status_code == 403


def test_preferences_are_kept_by_the_domains_they_belong_to(client, tenant, owner_session):
    default = client.get(f"{API}/me/preferences", headers=tenant.user.headers).json()
    assert default == {"emailNotifications": True, "emailFrequency": "daily", "desktopNotifications": False,
                       "weeklyDigest": True, "theme": "light", "timezone": "UTC", "language": "en"}
    changed = client.put(f"{API}/me/preferences", json={"theme": "dark", "timezone": "America/New_York",
                                                         "emailFrequency": "weekly", "desktopNotifications": True},
                         headers=tenant.user.headers)
    assert changed.status_code == 200
    assert changed.json() | {} == {**default, "theme": "dark", "timezone": "America/New_York",
                                   "emailFrequency": "weekly", "desktopNotifications": True}
    # the notification quiet hours and digests follow the same time zone, and the channels are the same switches
    prefs = notification_preferences.preferences_for(owner_session, user_id=tenant.user.id)
    assert prefs.timezone == "America/New_York" and prefs.email_frequency == "weekly"
    notifications = client.get(f"{API}/notifications/preferences", headers=tenant.user.headers).json()
    assert notifications["timezone"] == "America/New_York"
    assert notifications["channels"]["inApp"]["desktop"] is True


@pytest.mark.parametrize("body", [{"timezone": "Mars/Olympus"}, {"theme": "neon"}, {"emailFrequency": "yearly"},
                                  {"language": "tlh"}, {"unknown": True}])
def test_bad_preferences_are_refused_with_the_field(client, tenant, body):
    response = client.put(f"{API}/me/preferences", json=body, headers=tenant.user.headers)
    assert response.status_code == 422


def test_profile_and_password_change(client, tenant):
    profile = client.put(f"{API}/me/profile", json={"fullName": "Uma User", "title": "AE"},
                         headers=tenant.user.headers).json()
    assert profile["fullName"] == "Uma User" and profile["title"] == "AE"
    wrong = client.post(f"{API}/me/password", json={"currentPassword": "nope", "newPassword": "another-password"},
                        headers=tenant.user.headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["details"]["field"] == "currentPassword"
    assert client.post(f"{API}/me/password", json={"currentPassword": PASSWORD, "newPassword": "another-password"},
                       headers=tenant.user.headers).status_code == 200
    assert client.post(f"{API}/auth/login", json={"email": tenant.user.email,
                                                 "password": "another-password"}).status_code == 200
