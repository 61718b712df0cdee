"""Webhook services for the API: endpoints (secrets made here, shown once), rotation, the test send, logs, replay
and health. Keyword-only; they never commit (the request does). Row-level security keeps every query inside the
caller's organization; an id from another organization is simply not found."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from serving.core.config import Settings
from serving.core.errors import Forbidden, NotFound, ValidationFailed
from serving.core.principal import Principal
from serving.core.sealing import seal
from serving.webhooks import delivery, flows, targets
from serving.webhooks.models import LogStatus, WebhookEndpoint, WebhookLog
from serving.webhooks.schemas import EndpointIn, EndpointPatch, Health

TEST_EVENT = "webhook.test"


def new_secret() -> str:
    """A Standard Webhooks symmetric secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_target(*, url: str, allow_private: bool, principal: Principal, settings: Settings) -> None:
    if allow_private:
        if not principal.is_admin:
            raise Forbidden("only admins may allow private targets", code="INSUFFICIENT_ROLE",
                            details={"requiredRole": "admin", "field": "allowPrivate"})
        if not settings.webhooks_allow_private_targets:
            raise ValidationFailed("private targets are switched off on this installation "
                                   "(WEBHOOKS_ALLOW_PRIVATE_TARGETS)", code="PRIVATE_TARGETS_DISABLED",
                                   details={"field": "allowPrivate"})
    try:
        targets.check(url, allow_private=allow_private)
    except targets.UnsafeTarget as exc:
        raise ValidationFailed(str(exc), code="UNSAFE_WEBHOOK_URL", details={"field": "url", "value": url}) from exc


def get(*, db_session: Session, endpoint_id: uuid.UUID, lock: bool = False) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    endpoint = db_session.scalars(stmt.with_for_update() if lock else stmt).first()
    if endpoint is None:
        raise NotFound("webhook", endpoint_id)
    return endpoint


def create(*, db_session: Session, settings: Settings, principal: Principal, body: EndpointIn,
           now: datetime) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (stored sealed: this is the only time it is readable)."""
    _check_target(url=body.url, allow_private=body.allow_private, principal=principal, settings=settings)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=principal.organization_id, url=body.url, description=body.description,
        event_types=body.event_types, enabled=body.enabled, batch=body.batch, batch_max_size=body.batch_max_size,
        secret=seal(settings, secret, purpose="webhook-secrets"), allow_private=body.allow_private,
        created_by=principal.user_id,
        created_at=now, updated_at=now,
    )
    db_session.add(endpoint)
    db_session.flush()
    return endpoint, secret


def list_query() -> Select:
    return select(WebhookEndpoint).order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id)


def update(*, db_session: Session, settings: Settings, principal: Principal, endpoint_id: uuid.UUID,
           body: EndpointPatch, now: datetime) -> WebhookEndpoint:
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id, lock=True)
    # only the description can be cleared (null); a null elsewhere means "unchanged"
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "description"}
    url = changes.get("url", endpoint.url)
    allow_private = changes.get("allow_private", endpoint.allow_private)
    if "url" in changes or changes.get("allow_private"):
        _check_target(url=url, allow_private=allow_private, principal=principal, settings=settings)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.updated_at = now
    db_session.flush()
    return endpoint


def delete(*, db_session: Session, endpoint_id: uuid.UUID) -> None:
    db_session.delete(get(db_session=db_session, endpoint_id=endpoint_id, lock=True))
    db_session.flush()


def set_enabled(*, db_session: Session, endpoint_id: uuid.UUID, enabled: bool, now: datetime) -> WebhookEndpoint:
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id, lock=True)
    endpoint.enabled, endpoint.updated_at = enabled, now
    endpoint.disabled_reason = None if enabled else "disabled by a user"
    if enabled:
        endpoint.consecutive_failures = 0
        flows.wake(db_session, endpoint.organization_id)  # what waited while it was off goes now
    db_session.flush()
    return endpoint


def rotate(*, db_session: Session, settings: Settings, endpoint_id: uuid.UUID, overlap: timedelta,
           now: datetime) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned: the only time it is readable); the current one keeps signing (as a second
    signature) for the overlap."""
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id, lock=True)
    if overlap > timedelta(0):
        endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, now + overlap
    else:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = None, None
    secret = new_secret()
    endpoint.secret, endpoint.updated_at = seal(settings, secret, purpose="webhook-secrets"), now
    db_session.flush()
    return endpoint, secret


def send_test(*, db_session: Session, settings: Settings, endpoint_id: uuid.UUID, now: datetime) -> WebhookLog:
    """A `webhook.test` event sent now (even to a disabled endpoint: checking it is the point); never retried."""
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id)
    message_id = str(uuid.uuid4())
    log = WebhookLog(
        organization_id=endpoint.organization_id, endpoint_id=endpoint.id, event_ids=[message_id],
        event_types=[TEST_EVENT], message_id=message_id, status=LogStatus.pending, next_attempt_at=None,
        payload=delivery.event_payload(type=TEST_EVENT, occurred_at=now,
                                       data={"webhookId": str(endpoint.id), "message": "A test from AIRevenueOrc"}),
    )
    db_session.add(log)
    db_session.flush()
    delivery.send(db_session, settings, log=log, endpoint=endpoint, now=now)
    if log.status == LogStatus.failed:
        log.status, log.next_attempt_at = LogStatus.dead, None
    db_session.flush()
    return log


def logs_query(*, endpoint_id: uuid.UUID, statuses: list[str], event_type: str | None, since: datetime | None,
               until: datetime | None) -> Select:
    stmt = select(WebhookLog).where(WebhookLog.endpoint_id == endpoint_id)
    if statuses:
        stmt = stmt.where(WebhookLog.status.in_(statuses))
    if event_type:
        stmt = stmt.where(WebhookLog.event_types.contains([event_type]))
    if since is not None:
        stmt = stmt.where(WebhookLog.created_at >= since)
    if until is not None:
        stmt = stmt.where(WebhookLog.created_at < until)
    return stmt.order_by(WebhookLog.created_at.desc(), WebhookLog.id.desc())


def _replay(db_session: Session, original: WebhookLog, now: datetime) -> WebhookLog:
    """A new attempt set with the same `webhook-id` and body (receivers that saw it already can dedupe)."""
    copy = WebhookLog(organization_id=original.organization_id, endpoint_id=original.endpoint_id,
                      event_ids=original.event_ids, event_types=original.event_types,
                      message_id=original.message_id, payload=original.payload,
                      replay_of=original.replay_of or original.id, status=LogStatus.pending, next_attempt_at=now,
                      created_at=now, updated_at=now)
    db_session.add(copy)
    return copy


def replay_log(*, db_session: Session, log_id: uuid.UUID, now: datetime) -> WebhookLog:
    original = db_session.get(WebhookLog, log_id)
    if original is None:
        raise NotFound("webhook log", log_id)
    copy = _replay(db_session, original, now)
    db_session.flush()
    flows.wake(db_session, original.organization_id)
    return copy


def replay_range(*, db_session: Session, endpoint_id: uuid.UUID, start: datetime, end: datetime,
                 now: datetime) -> list[WebhookLog]:
    """Everything first logged for the endpoint in [start, end) — each message once, replays not repeated."""
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id)
    originals = db_session.scalars(
        select(WebhookLog).where(WebhookLog.endpoint_id == endpoint.id, WebhookLog.replay_of.is_(None),
                                 WebhookLog.created_at >= start, WebhookLog.created_at < end,
                                 ~WebhookLog.event_types.contains([TEST_EVENT]))
        .order_by(WebhookLog.created_at, WebhookLog.id)
    ).all()
    copies = [_replay(db_session, original, now) for original in originals]
    db_session.flush()
    if copies:
        flows.wake(db_session, endpoint.organization_id)
    return copies


def health(*, db_session: Session, endpoint_id: uuid.UUID, window: timedelta, now: datetime) -> Health:
    endpoint = get(db_session=db_session, endpoint_id=endpoint_id)
    attempted = [WebhookLog.endpoint_id == endpoint.id, WebhookLog.updated_at >= now - window,
                 WebhookLog.attempts > 0]
    row = db_session.execute(
        select(func.count(),
               func.count().filter(WebhookLog.status == LogStatus.succeeded),
               func.count().filter(WebhookLog.status == LogStatus.failed),
               func.count().filter(WebhookLog.status == LogStatus.dead),
               func.percentile_cont(0.5).within_group(WebhookLog.latency_ms),
               func.percentile_cont(0.95).within_group(WebhookLog.latency_ms))
        .where(*attempted)
    ).one()
    total, succeeded, failing, dead, p50, p95 = row
    last = db_session.execute(
        select(WebhookLog.error, WebhookLog.updated_at).where(*attempted, WebhookLog.error.is_not(None))
        .order_by(WebhookLog.updated_at.desc()).limit(1)
    ).first()
    finished = succeeded + failing + dead
    return Health(
        window_hours=int(window.total_seconds() // 3600), deliveries=total, succeeded=succeeded, failing=failing,
        dead=dead, success_rate=round(succeeded / finished, 4) if finished else None,
        p50_latency_ms=p50, p95_latency_ms=p95, last_error=last.error if last else None,
        last_error_at=last.updated_at if last else None, consecutive_failures=endpoint.consecutive_failures,
        enabled=endpoint.enabled,
    )
