"""SSO API bodies and answers (camelCase). A provider's `config` is checked against its protocol; an OIDC client
secret is write-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from serving.core.schemas import ApiModel, InputModel

RoleName = Literal["admin", "user", "viewer"]
# Kept exactly as given (pydantic's HttpUrl would add a trailing slash, and an OIDC issuer must match the ID
# token's `iss` character for character).
Url = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/?#]+[^\s]*$")]


class SamlConfig(InputModel):
    idp_entity_id: str = Field(min_length=1, max_length=1000)
    idp_sso_url: Url = Field(description="the IdP's single sign-on URL (HTTP-Redirect binding)")
    idp_x509_cert: str = Field(min_length=100, max_length=20000,
                               description="the IdP's signing certificate (PEM or base64 DER)")
    want_assertions_signed: bool = Field(default=True, description="refuse responses whose assertion is unsigned")
    allow_idp_initiated: bool = Field(default=False, description="accept responses no sign-in here asked for")


class OidcConfig(InputModel):
    issuer: Url
    client_id: str = Field(min_length=1, max_length=500)
    authorization_endpoint: Url | None = Field(default=None, description="read from discovery when absent")
    token_endpoint: Url | None = None
    jwks_uri: Url | None = None
    userinfo_endpoint: Url | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"], min_length=1, max_length=20)
    # plain OAuth 2.0 (no ID token): identity from the userinfo endpoint alone
    id_token: bool = Field(default=True, description="false for an OAuth 2.0 provider without OpenID Connect")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        if any(not s or len(s) > 100 or " " in s for s in value):
            raise ValueError("scopes are single words of at most 100 characters")
        return value


class AttributeMapping(InputModel):
    email: str | None = Field(default=None, max_length=200, description="default: the NameID / `email` claim")
    full_name: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200, description="names an existing team")
    role: str | None = Field(default=None, max_length=200, description="values mapped by `roleMapping`")


class ProviderIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    protocol: Literal["saml", "oidc"]
    enabled: bool = True
    config: dict = Field(description="SamlConfig or OidcConfig, by protocol")
    client_secret: str | None = Field(default=None, min_length=1, max_length=2000, description="OIDC; write-only")
    attribute_mapping: AttributeMapping = Field(default_factory=AttributeMapping)
    role_mapping: dict[str, RoleName] = Field(default_factory=dict, max_length=100)
    default_role: RoleName = "user"
    jit_provisioning: bool = True
    allowed_domains: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = [d.strip().lower().lstrip("@") for d in value]
        if any(not d or len(d) > 253 or "." not in d or " " in d for d in cleaned):
            raise ValueError("allowedDomains are e-mail domains like example.com")
        return cleaned

    @field_validator("role_mapping")
    @classmethod
    def _role_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not k or len(k) > 200 for k in value):
            raise ValueError("roleMapping keys are IdP values of 1 to 200 characters")
        return value

    @model_validator(mode="after")
    def _config(self) -> ProviderIn:
        model = SamlConfig if self.protocol == "saml" else OidcConfig
        self.config = model.model_validate(self.config).model_dump(mode="json")
        if self.protocol == "saml" and self.client_secret:
            raise ValueError("clientSecret is for OIDC providers")
        return self


class ServiceProviderInfo(ApiModel):
    """What to register at the identity provider."""

    entity_id: str
    acs_url: str
    metadata_url: str
    redirect_uri: str
    login_url: str
    dashboards_login_url: str = Field(description="the link to share: sign in here, land signed in on the dashboards")


class ProviderOut(ApiModel):
    id: uuid.UUID
    name: str
    protocol: str
    enabled: bool
    config: dict
    has_client_secret: bool
    attribute_mapping: dict
    role_mapping: dict
    default_role: str
    jit_provisioning: bool
    allowed_domains: list[str]
    service_provider: ServiceProviderInfo
    created_at: datetime
    updated_at: datetime


class ProviderList(ApiModel):
    data: list[ProviderOut]


class SsoSettings(InputModel):
    enforced: bool = Field(description="password sign-in refused for this organization's users")
    break_glass_user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20,
                                                  description="admins who may still sign in with a password")


class LoginCode(ApiModel):
    code: str = Field(description="one-time, valid 2 minutes: POST /auth/sso/exchange")
    expires_at: datetime


class ExchangeIn(InputModel):
    code: str = Field(min_length=10, max_length=200)
