"""Running a team (seed 6.1, 6.5): invitations, the single-use tokens of account e-mails (verify the address,
reset the password) and each user's own preferences."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in
from serving.core.permissions import Role


class InvitationStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    expired = "expired"
    revoked = "revoked"


class TokenPurpose(StrEnum):
    verify_email = "verify_email"
    reset_password = "reset_password"


class Theme(StrEnum):
    light = "light"
    dark = "dark"


class TeamInvitation(IdMixin, Base):
    """An invitation by e-mail: the token is mailed, only its SHA-256 is kept; single use, expires."""

    __tablename__ = "team_invitations"
    __table_args__ = (check_in("role", Role, nullable=False), check_in("status", InvitationStatus, nullable=False))

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, default=Role.user)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, default=InvitationStatus.pending, server_default="pending")
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AccountToken(IdMixin, Base):
    """The token of an account e-mail (verify the address, reset the password): hashed, single use, expires."""

    __tablename__ = "account_tokens"
    __table_args__ = (check_in("purpose", TokenPurpose, nullable=False),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UserPreference(Base):
    """What a user chooses for themself and that no other domain keeps: the dashboards' theme and the weekly
    summary e-mail. (Time zone and language are the profile's; notification channels are the notifications
    domain's — `GET/PUT /me/preferences` shows and changes them together.)"""

    __tablename__ = "user_preferences"
    __table_args__ = (check_in("theme", Theme, nullable=False),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    theme: Mapped[str] = mapped_column(Text, default=Theme.light, server_default=Theme.light.value)
    weekly_digest: Mapped[bool] = mapped_column(default=True, server_default="true")
    weekly_digest_sent_for: Mapped[datetime | None]  # the week (its Monday) last summarised: sent once
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
