"""Single sign-on (seed 6.4): the organization's identity providers (several per organization, SAML 2.0 or
OpenID Connect / OAuth 2.0), the state of each sign-in in flight (single use, short-lived), and the SAML
assertions already consumed (replay protection). Tenant tables with row-level security; the unauthenticated
sign-in routes find a provider's organization through a definer function that returns only its id."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class Protocol(StrEnum):
    saml = "saml"
    oidc = "oidc"  # OpenID Connect; plain OAuth 2.0 providers use it with a userinfo endpoint and no ID token


class SsoProvider(IdMixin, Base):
    __tablename__ = "sso_providers"
    __table_args__ = (check_in("protocol", Protocol, nullable=False),
                      UniqueConstraint("organization_id", "name"))

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    protocol: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    # SAML: idp_entity_id, idp_sso_url, idp_x509_cert, want_assertions_signed, allow_idp_initiated.
    # OIDC: issuer, client_id, authorization_endpoint, token_endpoint, jwks_uri, userinfo_endpoint, scopes.
    config: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    client_secret: Mapped[str | None] = mapped_column(Text)  # OIDC: sealed (serving.core.sealing)
    # claim / attribute name per field: email, full_name, team, role (what the IdP calls them)
    attribute_mapping: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # IdP role or group value → our role (admin, user, viewer); unmapped values get `default_role`
    role_mapping: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    default_role: Mapped[str] = mapped_column(Text, default="user", server_default="user")
    jit_provisioning: Mapped[bool] = mapped_column(default=True, server_default="true")
    # e-mail domains this provider may sign in; empty: any
    allowed_domains: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SsoLoginState(IdMixin, Base):
    """One sign-in in flight: created when it starts, consumed once by the IdP's answer, then (on success) holding
    the one-time code the client exchanges for its tokens."""

    __tablename__ = "sso_login_states"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sso_providers.id", ondelete="CASCADE"), index=True)
    state_hash: Mapped[str] = mapped_column(Text, unique=True)  # sha256 of the state / RelayState value
    saml_request_id: Mapped[str | None] = mapped_column(Text)  # checked against InResponseTo
    nonce: Mapped[str | None] = mapped_column(Text)
    code_verifier: Mapped[str | None] = mapped_column(Text)  # PKCE, sealed
    return_to: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    login_code_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    login_code_expires_at: Mapped[datetime | None]
    login_code_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SsoAssertion(Base):
    """A SAML assertion id already accepted from a provider: the same assertion again is a replay."""

    __tablename__ = "sso_assertions"

    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sso_providers.id", ondelete="CASCADE"), primary_key=True)
    assertion_id: Mapped[str] = mapped_column(Text, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
