"""Installing and running integrations: the marketplace as an organization sees it, installs with an API key or
OAuth 2.0 (authorization code + PKCE S256, authlib), status with the health score, usage per day, manual and
scheduled syncs with their logs, uninstall.

Keyword-only functions that do not commit (the router or the job does). Credentials are sealed
(`credentials.py`); a connector only ever runs through `context()`, whose HTTP client is tracked (rate limit,
usage and cost per call) and whose `refresh` re-seals new tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.core.principal import Principal
from serving.core.queue import enqueue
from serving.core.sealing import seal, unseal
from serving.integrations import catalogue, oauth
from serving.integrations.connectors import CONNECTORS
from serving.integrations.connectors.base import (
    CREDENTIALS_PURPOSE,
    ApiCall,
    Connector,
    ConnectorContext,
    ConnectorError,
    tracked_client,
)
from serving.integrations.credentials import forget_credentials, load_credentials, store_credentials
from serving.integrations.models import (
    AuthType,
    IntegrationReview,
    IntegrationStatus,
    IntegrationSyncLog,
    IntegrationUsageAnalytics,
    SyncDirection,
    SyncStatus,
    TeamIntegration,
)
from serving.integrations.usage import health_score, track_api_call, usage_since

OAUTH_STATE_TTL = timedelta(minutes=10)
SYNC_TASK = "integrations.sync"
CALLBACK_PATH = "/api/v1/integrations/oauth/callback"


@dataclass(frozen=True)
class Provider:
    connector: type[Connector]
    client_id: str | None
    client_secret: str | None
    base_url: str
    authorize_url: str | None
    token_url: str | None


def provider(settings: Settings, key: str) -> Provider:
    connector = CONNECTORS.get(key)
    if connector is None and catalogue.setup_path(key):
        raise ValidationFailed(f"{key} is an enrichment provider: set its API key with PUT "
                               f"{catalogue.setup_path(key)}", code="USE_ENRICHMENT_SETTINGS",
                               details={"provider": key, "setupPath": catalogue.setup_path(key)})
    if connector is None:
        known = {k for k, *_ in catalogue.CATALOGUE}
        raise ValidationFailed(f"{key!r} is " + ("not available yet (planned)" if key in known else "unknown"),
                               code="PROVIDER_UNAVAILABLE", details={"provider": key})
    own = settings.integration_providers.get(key, {})
    return Provider(connector, own.get("clientId"), own.get("clientSecret"),
                    own.get("baseUrl") or connector.default_base_url,
                    own.get("authorizeUrl") or connector.authorize_url, own.get("tokenUrl") or connector.token_url)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- the marketplace and the installed list --------------------------------------------------------------------

def marketplace(*, db_session: Session, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    """The catalogue with each entry's honest status, this organization's install and its rating."""
    installed = {r.provider: r for r in db_session.scalars(select(TeamIntegration).where(
        TeamIntegration.organization_id == organization_id))}
    ratings = dict((p, (float(avg), n)) for p, avg, n in db_session.execute(
        select(IntegrationReview.provider, func.avg(IntegrationReview.rating), func.count())
        .group_by(IntegrationReview.provider)).all())
    rows = []
    for key, name, category, auth_type, description in catalogue.CATALOGUE:
        row = installed.get(key)
        rating, reviews = ratings.get(key, (None, 0))
        rows.append({"key": key, "name": name, "category": category, "auth_type": auth_type.value,
                     "description": description, "status": "available" if catalogue.works(key) else "planned",
                     "setup_path": catalogue.setup_path(key),
                     "installed_id": row.id if row is not None and row.status != IntegrationStatus.disconnected
                     else None, "rating": round(rating, 2) if rating is not None else None, "reviews": reviews})
    return rows


def installed(*, organization_id: uuid.UUID) -> Select:
    return (select(TeamIntegration).where(TeamIntegration.organization_id == organization_id)
            .order_by(TeamIntegration.created_at, TeamIntegration.id))


def get(*, db_session: Session, integration_id: uuid.UUID) -> TeamIntegration:
    row = db_session.get(TeamIntegration, integration_id)
    if row is None:
        raise NotFound("integration", integration_id)
    return row


# --- running a connector ---------------------------------------------------------------------------------------

@contextmanager
def context(*, db_session: Session, settings: Settings, row: TeamIntegration, transport=None):
    """A connector run: its tracked client (every call recorded in `integration_usage_analytics`), credentials
    unsealed, and a token refresh that re-seals what the provider returns."""
    prov = provider(settings, row.provider)

    def record(call: ApiCall) -> None:
        track_api_call(db_session, organization_id=row.organization_id, integration_id=row.id, ok=call.ok,
                       latency_ms=call.latency_ms, cost_micros=call.cost_micros, at=utcnow())

    def refresh() -> tuple[str, str | None]:
        creds = load_credentials(settings, row)
        if not (prov.token_url and prov.client_id and prov.client_secret and creds.refresh_token):
            raise ConnectorError("refresh_unavailable", "no refresh token or OAuth app to refresh with")
        token = oauth.refresh_access_token(token_url=prov.token_url, client_id=prov.client_id,
                                           client_secret=prov.client_secret, refresh_token=creds.refresh_token,
                                           transport=transport)
        _store_token(settings, row, token)
        return token["access_token"], token.get("instance_url")

    with tracked_client(prov.connector, organization_id=row.organization_id, record=record,
                        transport=transport) as http:
        yield prov.connector(), ConnectorContext(
            organization_id=row.organization_id, integration_id=row.id, credentials=load_credentials(settings, row),
            config=dict(row.config or {}), http=http, base_url=(row.config or {}).get("instanceUrl") or prov.base_url,
            refresh=refresh if row.auth_type == AuthType.oauth2 else None)


def _store_token(settings: Settings, row: TeamIntegration, token: dict[str, Any]) -> None:
    expires_in = token.get("expires_in")
    store_credentials(settings, row, access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                      expires_at=utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None)
    if token.get("instance_url"):  # Salesforce: the organization's own API host
        row.config = {**(row.config or {}), "instanceUrl": token["instance_url"]}


def _check(*, db_session: Session, settings: Settings, row: TeamIntegration, transport=None) -> None:
    with context(db_session=db_session, settings=settings, row=row, transport=transport) as (connector, ctx):
        connector.check(ctx)


# --- install ---------------------------------------------------------------------------------------------------

def install(*, db_session: Session, settings: Settings, principal: Principal, key: str, api_key: str | None,
            config: dict[str, Any], transport=None) -> tuple[TeamIntegration, str | None]:
    """An API-key install is checked against the provider at once (refused: nothing is kept); an OAuth install
    answers the provider's authorization URL and waits for the callback. Returns (row, authorization URL)."""
    prov = provider(settings, key)
    row = db_session.scalar(select(TeamIntegration).where(TeamIntegration.provider == key))
    if row is not None and row.status in (IntegrationStatus.connected, IntegrationStatus.error):
        raise Conflict(f"{key} is already installed", code="ALREADY_INSTALLED", details={"integrationId": str(row.id)})
    if row is None:
        row = TeamIntegration(organization_id=principal.organization_id, provider=key,
                              auth_type=prov.connector.auth_type, status=IntegrationStatus.disconnected,
                              installed_by=principal.user_id, config={})
        db_session.add(row)
    row.config, row.installed_by = dict(config), principal.user_id
    if prov.connector.auth_type == AuthType.api_key:
        if not api_key:
            raise ValidationFailed(f"{key} installs with an API key", code="API_KEY_REQUIRED")
        store_credentials(settings, row, api_key=api_key)
        db_session.flush()
        try:
            _check(db_session=db_session, settings=settings, row=row, transport=transport)
        except ConnectorError as error:
            raise ValidationFailed(f"{prov.connector.name} refused the key: {error}", code="INTEGRATION_CHECK_FAILED",
                                   details={"provider": key, "reason": error.code}) from error
        if hasattr(prov.connector, "subscribe"):  # a provider that calls us back: its webhook, signed by our key
            _subscribe(db_session=db_session, settings=settings, row=row, transport=transport)
        row.status, row.last_error = IntegrationStatus.connected, None
        return row, None
    if not (prov.client_id and prov.client_secret and prov.authorize_url and prov.token_url):
        raise ValidationFailed(f"no OAuth app is configured for {key}: set its clientId and clientSecret in "
                               "INTEGRATION_PROVIDERS", code="OAUTH_NOT_CONFIGURED", details={"provider": key})
    state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    row.config = {**row.config, "oauth": {
        "stateHash": _hash(state), "verifier": seal(settings, verifier, purpose=CREDENTIALS_PURPOSE),
        "userId": str(principal.user_id), "expiresAt": (utcnow() + OAUTH_STATE_TTL).isoformat()}}
    db_session.flush()
    with OAuth2Client(client_id=prov.client_id, redirect_uri=redirect_uri(settings),
                      scope=" ".join(prov.connector.scopes) or None, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(prov.authorize_url, state=state, code_verifier=verifier,
                                                 **prov.connector.authorize_params)
    return row, url


def _subscribe(*, db_session: Session, settings: Settings, row: TeamIntegration, transport=None) -> None:
    signing_key = secrets.token_urlsafe(32)
    callback = f"{settings.tracking_base_url}/api/v1/integrations/{row.provider}/webhook/{row.id}"
    try:
        with context(db_session=db_session, settings=settings, row=row, transport=transport) as (connector, ctx):
            subscription = connector.subscribe(ctx, callback_url=callback, signing_key=signing_key)
    except ConnectorError as error:
        raise ValidationFailed(f"the provider refused the webhook subscription: {error}",
                               code="INTEGRATION_CHECK_FAILED", details={"reason": error.code}) from error
    row.config = {**row.config, "subscription": subscription,
                  "signingKey": seal(settings, signing_key, purpose=CREDENTIALS_PURPOSE)}


HIDDEN_CONFIG = ("oauth", "signingKey")  # kept sealed in the row, never shown


def shown_config(row: TeamIntegration) -> dict[str, Any]:
    return {k: v for k, v in (row.config or {}).items() if k not in HIDDEN_CONFIG}


SIGNATURE_TOLERANCE = timedelta(minutes=3)


def receive_calendly(*, db_session: Session, settings: Settings, integration_id: uuid.UUID, body: bytes,
                     signature: str | None, now: datetime | None = None) -> str:
    """A Calendly webhook: the integration found across tenants by id (a definer function), the signature checked
    against its sealed signing key (timestamp within three minutes, constant-time compare), then the booking or
    cancellation recorded on the timeline. An unknown integration and a bad signature are both 401."""
    from serving.core.errors import Unauthorized
    from serving.integrations import meetings

    now = now or utcnow()
    organization_id = db_session.scalar(text("select app.integration_organization(:i, 'calendly')"),
                                        {"i": integration_id})
    if organization_id is None:
        raise Unauthorized("unknown webhook", code="WEBHOOK_SIGNATURE_INVALID")
    set_tenant(db_session, organization_id)
    row = db_session.get(TeamIntegration, integration_id)
    sealed = (row.config or {}).get("signingKey") if row is not None else None
    parts = dict(p.split("=", 1) for p in (signature or "").split(",") if "=" in p)
    try:
        stamp = datetime.fromtimestamp(int(parts.get("t", "")), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        stamp = None
    if sealed is None or stamp is None or abs(now - stamp) > SIGNATURE_TOLERANCE:
        raise Unauthorized("missing, stale or invalid Calendly-Webhook-Signature", code="WEBHOOK_SIGNATURE_INVALID")
    key = unseal(settings, sealed, purpose=CREDENTIALS_PURPOSE).encode()
    expected = hmac.new(key, f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise Unauthorized("missing, stale or invalid Calendly-Webhook-Signature", code="WEBHOOK_SIGNATURE_INVALID")
    try:
        message = json.loads(body)
        event, payload = message["event"], message["payload"]
        email, booking = payload["email"], payload["uri"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed("not a Calendly webhook event", code="INVALID_WEBHOOK_PAYLOAD") from exc
    if event not in ("invitee.created", "invitee.canceled"):
        return "ignored"
    scheduled = payload.get("scheduled_event") or {}
    return meetings.record(db_session=db_session, integration=row, booking=str(booking), email=str(email).lower(),
                           name=payload.get("name"), title=scheduled.get("name"), start=scheduled.get("start_time"),
                           canceled=event == "invitee.canceled", now=now)


def redirect_uri(settings: Settings) -> str:
    return f"{settings.tracking_base_url}{CALLBACK_PATH}"


def complete_oauth(*, db_session: Session, settings: Settings, state: str, code: str | None, error: str | None,
                   transport=None) -> TeamIntegration:
    """The provider's redirect back (no session of ours: the state names the pending install). The state is single
    use and expires; the code is exchanged with the PKCE verifier; the connector's check must pass."""
    found = db_session.execute(text("select * from app.integration_oauth_pending(:h)"), {"h": _hash(state)}).first()
    if found is None:
        raise ValidationFailed("this authorization is unknown, used or expired: install again",
                               code="OAUTH_STATE_INVALID")
    set_tenant(db_session, found.organization_id)
    row = db_session.get(TeamIntegration, found.integration_id, with_for_update=True)
    pending = (row.config or {}).get("oauth") if row is not None else None
    if not pending or pending.get("stateHash") != _hash(state):
        raise ValidationFailed("this authorization is unknown, used or expired: install again",
                               code="OAUTH_STATE_INVALID")
    row.config = {k: v for k, v in row.config.items() if k != "oauth"}  # single use, whatever happens next
    if datetime.fromisoformat(pending["expiresAt"]) < utcnow():
        db_session.flush()
        raise ValidationFailed("this authorization expired: install again", code="OAUTH_STATE_EXPIRED")
    if error or not code:
        row.last_error = f"authorization refused: {error or 'no code'}"
        db_session.flush()
        raise ValidationFailed(f"the provider did not authorize the install ({error or 'no code'})",
                               code="OAUTH_DENIED", details={"error": error})
    prov = provider(settings, row.provider)
    verifier = unseal(settings, pending["verifier"], purpose=CREDENTIALS_PURPOSE)
    try:
        with OAuth2Client(client_id=prov.client_id, client_secret=prov.client_secret,
                          redirect_uri=redirect_uri(settings), token_endpoint_auth_method="client_secret_post",
                          transport=transport, follow_redirects=False, timeout=20.0) as client:
            token = dict(client.fetch_token(prov.token_url, grant_type="authorization_code", code=code,
                                            code_verifier=verifier))
    except OAuthError as exc:
        row.last_error = f"code exchange refused: {exc.error}"
        db_session.flush()
        raise ValidationFailed(f"{prov.connector.name} refused the authorization code ({exc.error})",
                               code="OAUTH_EXCHANGE_FAILED", details={"error": exc.error}) from exc
    _store_token(settings, row, token)
    db_session.flush()
    try:
        _check(db_session=db_session, settings=settings, row=row, transport=transport)
    except ConnectorError as exc:
        row.status, row.last_error = IntegrationStatus.error, f"{exc.code}: {exc}"
        return row
    row.status, row.last_error = IntegrationStatus.connected, None
    return row


def uninstall(*, db_session: Session, row: TeamIntegration) -> None:
    """Credentials destroyed and the install removed, with its usage and sync logs (records it synced stay)."""
    forget_credentials(row)
    db_session.delete(row)
    db_session.flush()


def update_config(*, db_session: Session, settings: Settings, row: TeamIntegration, config: dict[str, Any]
                  ) -> TeamIntegration:
    provider(settings, row.provider)
    kept = {k: v for k, v in (row.config or {}).items() if k in ("instanceUrl", "cursor", "subscription",
                                                                  "signingKey")}
    row.config = {**config, **kept}
    db_session.flush()
    return row


# --- status and usage ------------------------------------------------------------------------------------------

def status(*, db_session: Session, row: TeamIntegration, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    calls, errors, latency_sum = usage_since(db_session, integration_id=row.id, since=now - timedelta(hours=24))
    auth_ok = row.status == IntegrationStatus.connected and (row.token_expires_at is None
                                                             or row.token_expires_at > now
                                                             or row.sealed_refresh_token is not None)
    score = health_score(calls=calls, errors=errors, latency_ms_sum=latency_sum, auth_ok=auth_ok)
    last_sync = db_session.scalar(select(IntegrationSyncLog).where(IntegrationSyncLog.integration_id == row.id)
                                  .order_by(IntegrationSyncLog.started_at.desc()).limit(1))
    return {"id": row.id, "provider": row.provider, "status": row.status, "health_score": score,
            "auth_ok": auth_ok, "calls_last_day": calls,
            "error_rate_last_day": round(errors / calls, 4) if calls else None,
            "avg_latency_ms_last_day": round(latency_sum / calls) if calls else None, "last_error": row.last_error,
            "last_sync_at": row.last_sync_at, "last_sync_status": last_sync.status if last_sync else None,
            "token_expires_at": row.token_expires_at}


def analytics(*, db_session: Session, row: TeamIntegration, days: int, now: datetime | None = None
              ) -> list[dict[str, Any]]:
    now = now or utcnow()
    day = func.date_trunc("day", IntegrationUsageAnalytics.hour)
    rows = db_session.execute(
        select(day, func.sum(IntegrationUsageAnalytics.calls), func.sum(IntegrationUsageAnalytics.errors),
               func.sum(IntegrationUsageAnalytics.latency_ms_sum), func.sum(IntegrationUsageAnalytics.cost_micros))
        .where(IntegrationUsageAnalytics.integration_id == row.id,
               IntegrationUsageAnalytics.hour >= now - timedelta(days=days))
        .group_by(day).order_by(day)).all()
    return [{"day": d.date(), "calls": c, "errors": e, "avg_latency_ms": round(lat / c) if c else None,
             "cost_usd": round(cost / 1_000_000, 6)} for d, c, e, lat, cost in rows]


# --- sync ------------------------------------------------------------------------------------------------------

def request_sync(*, db_session: Session, settings: Settings, row: TeamIntegration, now: datetime | None = None
                 ) -> IntegrationSyncLog:
    """A sync log `running` and the worker job that runs it; one waiting sync per integration."""
    prov = provider(settings, row.provider)
    if not prov.connector.syncs:
        raise ValidationFailed(f"{prov.connector.name} has nothing to sync", code="SYNC_UNSUPPORTED")
    if row.status != IntegrationStatus.connected:
        raise Conflict(f"the integration is {row.status}: reconnect it first", code="INTEGRATION_NOT_CONNECTED")
    running = db_session.scalar(select(IntegrationSyncLog).where(IntegrationSyncLog.integration_id == row.id,
                                                                 IntegrationSyncLog.status == SyncStatus.running))
    if running is not None:
        return running  # one sync at a time: the waiting one answers this request too
    log = IntegrationSyncLog(organization_id=row.organization_id, integration_id=row.id,
                             direction=SyncDirection.both, started_at=now or utcnow(), status=SyncStatus.running)
    db_session.add(log)
    db_session.flush()
    enqueue(db_session, SYNC_TASK, queueing_lock=f"{SYNC_TASK}:{row.id}", organization_id=str(row.organization_id),
            integration_id=str(row.id), log_id=str(log.id))
    return log


def run_sync(*, db_session: Session, settings: Settings, row: TeamIntegration, log: IntegrationSyncLog,
             transport=None) -> IntegrationSyncLog:
    """The connector's sync; its counts (or its error) on the log, the integration's status and last sync."""
    try:
        with context(db_session=db_session, settings=settings, row=row, transport=transport) as (connector, ctx):
            ctx.extra.update(db_session=db_session, cursor=(row.config or {}).get("cursor"), now=utcnow(),
                             installed_by=row.installed_by, integration=row)
            result = connector.sync(ctx)
            cursor = ctx.extra.get("next_cursor")
    except ConnectorError as error:
        log.status, log.finished_at = SyncStatus.failed, utcnow()
        log.error = f"{error.code}: {error}"[:1000]
        row.status, row.last_error = IntegrationStatus.error, log.error
        return log
    log.status = SyncStatus.failed if result.error else SyncStatus.succeeded
    log.finished_at = utcnow()
    log.read_count, log.created_count, log.updated_count, log.skipped_count, log.failed_count = (
        result.read, result.created, result.updated, result.skipped, result.failed)
    log.error = result.error
    if cursor is not None:
        row.config = {**(row.config or {}), "cursor": cursor}
    row.last_sync_at, row.last_error = log.finished_at, result.error
    return log


def sync_logs(*, integration_id: uuid.UUID) -> Select:
    return (select(IntegrationSyncLog).where(IntegrationSyncLog.integration_id == integration_id)
            .order_by(IntegrationSyncLog.started_at.desc(), IntegrationSyncLog.id))


def due_syncs(*, db_session: Session, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, integration) of every connected integration whose `syncIntervalMinutes` (its settings) has
    passed since its last sync — across organizations, ids only (a definer function, migration 0038)."""
    return [tuple(r) for r in db_session.execute(text("select * from app.integrations_due_sync(:now)"),
                                                 {"now": now}).all()]
