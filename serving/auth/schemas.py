"""Login request and token response."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from serving.core.schemas import ApiModel, Email, InputModel


class LoginRequest(InputModel):
    email: Email
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, min_length=6, max_length=32,
                                  description="for a user with two-factor sign-in: the app's 6-digit code or a "
                                              "recovery code (without it: 401 TWO_FACTOR_REQUIRED)")


class UserOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID | None
    email: str
    full_name: str | None
    role: str
    is_active: bool
    last_login_at: datetime | None = None


class TokenResponse(ApiModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class SessionResponse(ApiModel):
    session_token: str = Field(description="signed, short-lived and revocable: exchange it at /auth/sessions/refresh")
    expires_at: datetime


class SessionTokenRequest(InputModel):
    session_token: str = Field(min_length=1, max_length=4096)
