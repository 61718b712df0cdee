"""Team, account and preference payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from serving.core.schemas import ApiModel, Email, InputModel

RoleName = Literal["admin", "user", "viewer"]
Password = Field(min_length=8, max_length=1024)
Token = Field(min_length=20, max_length=200)


class MemberOut(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    role: str
    team_id: uuid.UUID | None
    team_name: str | None = None
    is_active: bool
    email_verified: bool
    two_factor_enabled: bool
    last_login_at: datetime | None
    last_activity_at: datetime | None = Field(default=None, description="their newest audited action")
    created_at: datetime


class RoleIn(InputModel):
    role: RoleName


class MoveIn(InputModel):
    team_id: uuid.UUID | None = Field(description="null: in no team")


class InviteIn(InputModel):
    email: Email
    role: RoleName = "user"
    team_id: uuid.UUID | None = None


class InvitationOut(ApiModel):
    id: uuid.UUID
    email: str
    role: str
    team_id: uuid.UUID | None
    status: str = Field(description="pending, accepted, expired (a pending one past its expiry) or revoked")
    invited_by: uuid.UUID | None
    expires_at: datetime
    accepted_at: datetime | None
    created_at: datetime


class InvitationCreated(InvitationOut):
    accept_url: str = Field(description="the link mailed to the invitee, shown this once (to pass on by hand)")


class InvitationPreview(ApiModel):
    email: str
    role: str
    organization_name: str
    expires_at: datetime
    needs_password: bool = Field(description="false when the address is a former member's, who keeps theirs")


class AcceptIn(InputModel):
    password: str | None = Field(default=None, min_length=8, max_length=1024,
                                 description="required for a new account; a returning member may keep theirs")
    full_name: str | None = Field(default=None, max_length=200)


class TeamIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)


class TeamOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None
    members: int
    created_at: datetime


class SecuritySettings(InputModel):
    require_two_factor: bool = Field(description="members must turn on two-factor sign-in before anything else")


# -- self-serve -------------------------------------------------------------------------------------------------

class SignupIn(InputModel):
    organization_name: str = Field(min_length=1, max_length=200)
    email: Email
    password: str = Password
    full_name: str | None = Field(default=None, max_length=200)


class TokenIn(InputModel):
    token: str = Token


class ForgotIn(InputModel):
    email: Email


class ResetIn(InputModel):
    token: str = Token
    password: str = Password


class PasswordChangeIn(InputModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Password


class Accepted(ApiModel):
    message: str


class TwoFactorStatus(ApiModel):
    enabled: bool
    pending: bool = Field(description="enrolment begun, waiting for its first code")
    recovery_codes_left: int
    required_by_organization: bool


class EnrolmentOut(ApiModel):
    secret: str = Field(description="base32, for typing into an authenticator app")
    provisioning_uri: str = Field(description="otpauth:// URI (what the QR code holds)")
    qr_code_svg: str = Field(description="the URI as an SVG QR code")


class CodeIn(InputModel):
    code: str = Field(min_length=6, max_length=32)


class RecoveryCodes(ApiModel):
    recovery_codes: list[str] = Field(description="each works once; shown this one time")


# -- profile and preferences ------------------------------------------------------------------------------------

def _zone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ValueError, KeyError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return value


class PreferencesOut(ApiModel):
    email_notifications: bool
    email_frequency: str
    desktop_notifications: bool
    weekly_digest: bool
    theme: str
    timezone: str
    language: str


class PreferencesUpdate(InputModel):
    email_notifications: bool | None = None
    email_frequency: Literal["instant", "hourly", "daily", "weekly"] | None = None
    desktop_notifications: bool | None = None
    weekly_digest: bool | None = None
    theme: Literal["light", "dark"] | None = None
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone, e.g. Europe/Paris")
    language: Literal["en", "fr", "de", "es", "pt", "it", "nl"] | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return _zone(value)


class ProfileOut(ApiModel):
    email: str
    full_name: str | None
    title: str | None
    phone: str | None
    email_verified: bool


class ProfileUpdate(InputModel):
    full_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
