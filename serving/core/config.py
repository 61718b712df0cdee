"""Settings for every process of the platform, read from the environment only."""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serving.core.db import sqlalchemy_url

APP_ROLE = "revorc_app"
READONLY_ROLE = "revorc_readonly"
RUNTIME_FILE = "runtime.json"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int) -> timedelta:
    """Parse `7d`, `12h`, `30m`, `45s` or a number of seconds, as in JWT_EXPIRATION."""
    if isinstance(value, int):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"invalid duration {value!r}: use a number followed by s, m, h, d or w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class NotConfigured(RuntimeError):
    """A setting the command needs is missing (e.g. no database: the embedded services are not running)."""


class Settings(BaseSettings):
    """One place for configuration. Secrets have no usable default outside development."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False, validate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="REVORC_ENV"
    )
    revorc_home: Path = Field(default=Path(".revorc"), validation_alias="REVORC_HOME")

    # DATABASE_URL is the owner connection (migrations, pipelines). The API and worker use
    # APP_DATABASE_URL, a role that does not own the tables, so row-level security applies.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    app_database_url: str | None = Field(default=None, validation_alias="APP_DATABASE_URL")
    readonly_database_url: str | None = Field(default=None, validation_alias="READONLY_DATABASE_URL")
    db_pool_size: int = Field(default=10, validation_alias="DB_POOL_SIZE")

    typesense_url: str | None = Field(default=None, validation_alias="TYPESENSE_URL")
    typesense_api_key: SecretStr | None = Field(default=None, validation_alias="TYPESENSE_API_KEY")
    # the seed's form of the same setting; TYPESENSE_URL wins when both are set
    typesense_host: str | None = Field(default=None, validation_alias="TYPESENSE_HOST")
    typesense_port: int | None = Field(default=None, ge=1, le=65535, validation_alias="TYPESENSE_PORT")
    typesense_protocol: Literal["http", "https"] = Field(default="http", validation_alias="TYPESENSE_PROTOCOL")
    # Collections and aliases are named `<prefix>_<entity>`: several installs (or test sessions) can share one
    # Typesense server without seeing each other's documents.
    search_collection_prefix: str = Field(default="revorc", pattern=r"^[a-z][a-z0-9_]{0,39}$",
                                          validation_alias="SEARCH_COLLECTION_PREFIX")
    # The website crawler refuses hosts that resolve to loopback/private/link-local addresses (SSRF) unless this
    # is on: a self-hoster crawling an intranet site, or the tests' local site.
    crawler_allow_private_networks: bool = Field(default=False, validation_alias="CRAWLER_ALLOW_PRIVATE_NETWORKS")
    crawler_timeout_seconds: float = Field(default=10.0, gt=0, le=120, validation_alias="CRAWLER_TIMEOUT_SECONDS")
    crawler_max_page_bytes: int = Field(default=2_000_000, ge=10_000, validation_alias="CRAWLER_MAX_PAGE_BYTES")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Knowledge-base embeddings: the offline MiniLM model, or OpenAI's text-embedding-3-small at 384 dimensions.
    # Switching re-embeds nothing by itself: the knowledge embedding backfill asset does (vectors record their model).
    embeddings_provider: Literal["local", "openai"] = Field(default="local", validation_alias="EMBEDDINGS_PROVIDER")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    # The AI model layer (serving/ai/llm, docs/ai.md): a provider is available when its key is set. The base URLs
    # point the official SDKs elsewhere (a proxy, a compatible server, the tests' fake vendors).
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    google_ai_api_key: SecretStr | None = Field(default=None, validation_alias="GOOGLE_AI_API_KEY")
    google_ai_base_url: str | None = Field(default=None, validation_alias="GOOGLE_AI_BASE_URL")
    # Enrichment vendors (serving/enrichment/clients.py, docs/enrichment.md): base URLs so a proxy or the tests'
    # local fake servers can stand in for the vendors' APIs.
    clearbit_base_url: str = Field(default="https://person-stream.clearbit.com", validation_alias="CLEARBIT_BASE_URL")
    zoominfo_base_url: str = Field(default="https://api.zoominfo.com", validation_alias="ZOOMINFO_BASE_URL")
    apollo_base_url: str = Field(default="https://api.apollo.io", validation_alias="APOLLO_BASE_URL")
    hunter_base_url: str = Field(default="https://api.hunter.io", validation_alias="HUNTER_BASE_URL")
    pdl_base_url: str = Field(default="https://api.peopledatalabs.com", validation_alias="PDL_BASE_URL")
    enrichment_timeout_seconds: float = Field(default=15.0, gt=0, le=120, validation_alias="ENRICHMENT_TIMEOUT_SECONDS")
    # enriched e-mails are checked for an MX record (DNS_NAMESERVERS picks the servers); off: syntax only
    enrichment_verify_mx: bool = Field(default=True, validation_alias="ENRICHMENT_VERIFY_MX")
    # how long a vendor's answer (or no match) is reused instead of paying for the same lookup again
    enrichment_cache_days: int = Field(default=30, ge=0, le=365, validation_alias="ENRICHMENT_CACHE_DAYS")
    ai_timeout_seconds: float = Field(default=60.0, gt=0, le=600, validation_alias="AI_TIMEOUT_SECONDS")
    # Tries per provider/model before falling back to the next (tenacity; the SDKs' own retries are off).
    ai_max_attempts: int = Field(default=3, ge=1, le=10, validation_alias="AI_MAX_ATTEMPTS")
    ai_retry_base_seconds: float = Field(default=0.5, ge=0, le=30, validation_alias="AI_RETRY_BASE_SECONDS")
    ai_retry_max_seconds: float = Field(default=20.0, ge=0, le=300, validation_alias="AI_RETRY_MAX_SECONDS")
    # Default monthly cap per organization in USD (an organization's own `ai_budgets` row wins); unset = no cap.
    ai_monthly_budget_usd: Decimal | None = Field(default=None, ge=0, validation_alias="AI_MONTHLY_BUDGET_USD")
    # Optional local model: a GGUF file run by llama-cpp-python, if the user installed that package (never
    # downloaded; see docs/ai.md).
    ai_local_model_path: Path | None = Field(default=None, validation_alias="AI_LOCAL_MODEL_PATH")
    ai_local_context_tokens: int = Field(default=4096, ge=512, le=131072, validation_alias="AI_LOCAL_CONTEXT_TOKENS")

    jwt_secret: SecretStr | None = Field(default=None, validation_alias="JWT_SECRET")
    # Fernet keys for secrets at rest, newest first, comma-separated (serving.core.sealing); unset: derived from
    # JWT_SECRET per purpose.
    encryption_keys: SecretStr | None = Field(default=None, validation_alias="ENCRYPTION_KEYS")

    # Plans and billing (serving.organizations.plans, serving.billing): limits are enforced unless a self-hosted
    # install turns them off; Stripe only when its secret key is set.
    plan_limits_enabled: bool = Field(default=True, validation_alias="PLAN_LIMITS_ENABLED")
    stripe_secret_key: SecretStr | None = Field(default=None, validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: SecretStr | None = Field(default=None, validation_alias="STRIPE_WEBHOOK_SECRET")
    stripe_publishable_key: str | None = Field(default=None, validation_alias="STRIPE_PUBLISHABLE_KEY")
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")  # tests: a local fake
    stripe_price_starter: str | None = Field(default=None, validation_alias="STRIPE_PRICE_STARTER")
    stripe_price_pro: str | None = Field(default=None, validation_alias="STRIPE_PRICE_PRO")
    # A Stripe Billing Meter's event name: e-mails sent are reported to it daily (usage-based billing)
    stripe_usage_meter_event: str | None = Field(default=None, validation_alias="STRIPE_USAGE_METER_EVENT")
    # where the Billing Portal's back link goes when the caller names none (the dashboards' billing page)
    billing_return_url: str = Field(default="http://127.0.0.1:8501/billing", validation_alias="BILLING_RETURN_URL")
    # SSO: where sign-ins may return to (besides ALLOWED_ORIGINS), and whether identity providers on private
    # addresses may be called (a self-hosted Keycloak on the LAN); metadata addresses stay refused.
    dashboards_url: str = Field(default="http://127.0.0.1:8501", validation_alias="DASHBOARDS_URL")
    sso_allow_private_idp: bool = Field(default=False, validation_alias="SSO_ALLOW_PRIVATE_IDP")
    jwt_expiration: timedelta = Field(default=timedelta(days=7), validation_alias="JWT_EXPIRATION")
    # team and self-serve accounts (docs/team.md): invitation and account e-mail links, and whether anyone may
    # sign up (creating an organization) — on for a self-hosted install, off for an invite-only one
    invitation_expiration_hours: int = Field(default=72, ge=1, le=24 * 30,
                                             validation_alias="INVITATION_EXPIRATION_HOURS")
    email_verification_expiration_hours: int = Field(default=48, ge=1, le=24 * 30,
                                                     validation_alias="EMAIL_VERIFICATION_EXPIRATION_HOURS")
    password_reset_expiration_minutes: int = Field(default=60, ge=5, le=24 * 60,
                                                   validation_alias="PASSWORD_RESET_EXPIRATION_MINUTES")
    signup_enabled: bool = Field(default=True, validation_alias="SIGNUP_ENABLED")
    jwt_algorithm: str = "HS256"

    rate_limit_enabled: bool = Field(default=True, validation_alias="RATE_LIMIT_ENABLED")
    rate_limit_general: str = Field(default="1000/hour", validation_alias="RATE_LIMIT_GENERAL")
    rate_limit_auth: str = Field(default="10/minute", validation_alias="RATE_LIMIT_AUTH")
    rate_limit_search: str = Field(default="100/minute", validation_alias="RATE_LIMIT_SEARCH")
    # Per IP on the public routes providers and mail clients call (Segment Tracking API, SendGrid webhooks,
    # inbound mail, open pixel, click redirect, unsubscribe): one Gmail image-proxy or NAT address carries
    # many recipients' opens. Over it, nothing is lost: see serving.core.ratelimit.
    rate_limit_provider: str = Field(default="30000/minute", validation_alias="RATE_LIMIT_PROVIDER")

    allowed_origins: list[str] = Field(default_factory=list, validation_alias="ALLOWED_ORIGINS")
    api_host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    api_port: int = Field(default=8000, validation_alias="API_PORT")
    public_api_url: str | None = Field(default=None, validation_alias="PUBLIC_API_URL")
    import_max_bytes: int = Field(default=20 * 1024 * 1024, validation_alias="IMPORT_MAX_BYTES")
    # SendGrid Signed Event Webhook public key (base64 DER, as shown in the SendGrid UI)
    sendgrid_webhook_verification_key: str | None = Field(
        default=None, validation_alias="SENDGRID_WEBHOOK_VERIFICATION_KEY"
    )

    # Outreach: delivery backend (SendGrid when its key is set, else SMTP_URL, else the outbox).
    email_backend: Literal["auto", "outbox", "smtp", "sendgrid"] = Field(
        default="auto", validation_alias="EMAIL_BACKEND"
    )
    email_from: str = Field(default="noreply@localhost", validation_alias="EMAIL_FROM")
    sendgrid_api_key: SecretStr | None = Field(default=None, validation_alias="SENDGRID_API_KEY")
    sendgrid_verified_sender: str | None = Field(default=None, validation_alias="SENDGRID_VERIFIED_SENDER")
    sendgrid_api_host: str = Field(default="https://api.sendgrid.com", validation_alias="SENDGRID_API_HOST")
    smtp_url: str | None = Field(default=None, validation_alias="SMTP_URL")
    # A delivery claim (`sending`) whose worker holds no lock any more is resolved after this long
    # (it only has to cover the instant between committing the claim and re-locking the row).
    email_claim_grace_seconds: float = Field(default=30.0, ge=0, validation_alias="EMAIL_CLAIM_GRACE_SECONDS")
    # SendGrid's Email Activity feed lags behind Mail Send: "not found" means "not sent" only after this.
    sendgrid_activity_lag_seconds: float = Field(
        default=900.0, ge=0, validation_alias="SENDGRID_ACTIVITY_LAG_SECONDS"
    )
    dkim_domain: str | None = Field(default=None, validation_alias="DKIM_DOMAIN")
    dkim_selector: str | None = Field(default=None, validation_alias="DKIM_SELECTOR")
    dkim_private_key: SecretStr | None = Field(default=None, validation_alias="DKIM_PRIVATE_KEY")  # PEM or path
    email_tracking_domain: str | None = Field(default=None, validation_alias="EMAIL_TRACKING_DOMAIN")
    email_tracking_base_url: str | None = Field(default=None, validation_alias="EMAIL_TRACKING_BASE_URL")
    email_tracking_secret: SecretStr | None = Field(default=None, validation_alias="EMAIL_TRACKING_SECRET")
    inbound_parse_secret: SecretStr | None = Field(default=None, validation_alias="INBOUND_PARSE_SECRET")
    mailbox_daily_cap: int = Field(default=200, validation_alias="MAILBOX_DAILY_CAP")
    soft_bounce_limit: int = Field(default=3, validation_alias="SOFT_BOUNCE_LIMIT")
    soft_bounce_window_days: int = Field(default=7, validation_alias="SOFT_BOUNCE_WINDOW_DAYS")
    dns_nameservers: list[str] = Field(default_factory=list, validation_alias="DNS_NAMESERVERS")
    # per integration provider: clientId, clientSecret (OAuth apps registered by this install), and overrides of
    # baseUrl, authorizeUrl, tokenUrl (tests point them at local fakes); JSON, e.g. {"slack": {"clientId": …}}
    integration_providers: dict[str, dict[str, str]] = Field(default_factory=dict,
                                                             validation_alias="INTEGRATION_PROVIDERS")
    twilio_account_sid: str | None = Field(default=None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(default=None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_phone_number: str | None = Field(default=None, validation_alias="TWILIO_PHONE_NUMBER")
    twilio_api_base: str = Field(default="https://api.twilio.com", validation_alias="TWILIO_API_BASE")
    # Web Push (notifications): the VAPID key pair (private: PEM, base64url DER or raw key; public: the base64url
    # uncompressed point browsers subscribe with) and the contact the push services see (mailto: or https:).
    vapid_private_key: SecretStr | None = Field(default=None, validation_alias="VAPID_PRIVATE_KEY")
    vapid_public_key: str | None = Field(default=None, validation_alias="VAPID_PUBLIC_KEY")
    vapid_subject: str = Field(default="mailto:admin@localhost", validation_alias="VAPID_SUBJECT")
    # Outbound webhooks: an admin may point an endpoint at a private, loopback or link-local address (a
    # self-hosted receiver on the same network) only when this is on; cloud metadata addresses stay refused.
    webhooks_allow_private_targets: bool = Field(default=False, validation_alias="WEBHOOKS_ALLOW_PRIVATE_TARGETS")
    # Flows: an `http_request` step may call a private, loopback or link-local address only when this is on
    # (metadata addresses stay refused); flows are written by admins.
    flows_allow_private_targets: bool = Field(default=False, validation_alias="FLOWS_ALLOW_PRIVATE_TARGETS")
    worker_concurrency: int = Field(default=4, validation_alias="WORKER_CONCURRENCY")
    # Worker processes `revorc up` / `revorc worker` start: one per core up to 4 (jobs hold the GIL while they
    # render and build rows, so threads alone use one core); they share the Postgres queue.
    worker_processes: int = Field(
        default_factory=lambda: max(1, min(4, len(os.sched_getaffinity(0)))), ge=1,
        validation_alias="WORKER_PROCESSES",
    )

    # API processes `revorc up` / `revorc serve` start (uvicorn workers): one per core up to 4. Each holds its
    # own connection pool, model cache and rate-limit client; what must be shared lives in Postgres or Redis.
    api_workers: int = Field(
        default_factory=lambda: max(1, min(4, len(os.sched_getaffinity(0)))), ge=1,
        validation_alias="API_WORKERS",
    )

    @field_validator("jwt_expiration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str | int) else value

    @field_validator("allowed_origins", "dns_nameservers", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.jwt_secret is None:
            if self.environment == "production":
                raise ValueError("JWT_SECRET must be set in production (at least 32 characters)")
            self.jwt_secret = SecretStr(_development_secret(self.revorc_home))
        elif self.environment == "production" and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters in production")
        for key in self.encryption_keys_list():
            try:
                Fernet(key.encode())
            except ValueError:
                raise ValueError("ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), "
                                 "comma-separated, newest first") from None
        return self

    def encryption_keys_list(self) -> list[str]:
        raw = self.encryption_keys.get_secret_value() if self.encryption_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]

    # -- derived -----------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.revorc_home.expanduser().resolve()

    def runtime(self) -> dict:
        """What `revorc services` recorded about the embedded services it started."""
        path = self.home / RUNTIME_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def owner_database_url(self) -> str:
        url = self.database_url or self.runtime().get("database_url")
        if not url:
            raise NotConfigured(
                "No database configured: start the embedded services with `revorc services` "
                "(or `revorc up`), or set DATABASE_URL."
            )
        return sqlalchemy_url(url)

    @property
    def api_database_url(self) -> str:
        """The non-owner connection used by the API and worker (row-level security applies)."""
        if self.app_database_url:
            return sqlalchemy_url(self.app_database_url)
        return sqlalchemy_url(self.owner_database_url, username=APP_ROLE)

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def tracking_base_url(self) -> str:
        """Where tracking pixels, click redirects and unsubscribe links point (the API host)."""
        if self.email_tracking_base_url:
            return self.email_tracking_base_url.rstrip("/")
        if self.email_tracking_domain:
            return f"https://{self.email_tracking_domain}"
        return (self.public_api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def tracking_secret(self) -> bytes:
        """Signs tracking and unsubscribe links; derived from JWT_SECRET unless set on its own."""
        if self.email_tracking_secret:
            return self.email_tracking_secret.get_secret_value().encode()
        import hashlib
        import hmac

        return hmac.new(self.jwt_secret.get_secret_value().encode(), b"email-tracking", hashlib.sha256).digest()

    @property
    def dashboard_database_url(self) -> str:
        if self.readonly_database_url:
            return sqlalchemy_url(self.readonly_database_url)
        return sqlalchemy_url(self.owner_database_url, username=READONLY_ROLE)

    @property
    def typesense(self) -> tuple[str, str] | None:
        url = self.typesense_url
        if not url and self.typesense_host:
            port = self.typesense_port or (443 if self.typesense_protocol == "https" else 8108)
            url = f"{self.typesense_protocol}://{self.typesense_host}:{port}"
        url = url or self.runtime().get("typesense_url")
        key = self.typesense_api_key.get_secret_value() if self.typesense_api_key else None
        key = key or self.runtime().get("typesense_api_key")
        return (url, key) if url and key else None


def _development_secret(home: Path) -> str:
    """A random secret kept in REVORC_HOME so development tokens survive restarts."""
    path = home.expanduser() / "secrets" / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
