"""Sending webhooks: the Standard Webhooks payload and headers, signed with the official `standardwebhooks`
library; the POST (httpx, to the address `targets.check` approved, no redirects, capped response); and the retry
schedule. The worker runs `run` per organization under its tenant; `send` is also what the test endpoint uses.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.sealing import unseal
from serving.webhooks import targets
from serving.webhooks.models import LogStatus, WebhookEndpoint, WebhookLog

logger = logging.getLogger(__name__)

# Delay before attempt 2, 3, …, 10 (exponential, capped at 12 h): 10 attempts over about 47 hours, so a receiver
# down for a day still gets everything. Each delay gets ±JITTER so that many failing deliveries do not retry in step.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8), timedelta(minutes=32),
    timedelta(hours=2, minutes=8), timedelta(hours=8, minutes=32), timedelta(hours=12), timedelta(hours=12),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RESPONSE_CAP = 4096  # bytes of a response body kept in the log (the rest is not even read)
BATCH_LIMIT = 100  # logs one job run sends per organization before it defers the rest to the next run
USER_AGENT = "AIRevenueOrc-Webhooks/1"


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt, jittered; None when that was the last attempt."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def event_payload(*, type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload: `type`, `timestamp` (ISO 8601, when the event happened), `data`."""
    return {"type": type, "timestamp": occurred_at.isoformat().replace("+00:00", "Z"), "data": data}


def secrets_for(settings: Settings, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its overlap ends."""
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and now < endpoint.previous_secret_expires_at:
        found.append(endpoint.previous_secret)
    return [unseal(settings, sealed, purpose="webhook-secrets") for sealed in found]


def signed_headers(*, message_id: str, body: bytes, secrets: list[str], sent_at: datetime) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(msg_id=message_id, timestamp=sent_at, data=body) for secret in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass
class Result:
    ok: bool
    status: int | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    latency_ms: int | None = None
    error: str | None = None
    gone: bool = False


def post(target: targets.Target, *, headers: dict[str, str], body: bytes) -> Result:
    """POST to the checked address itself (no second lookup), with the URL's host in `Host` and in TLS (SNI and
    certificate check); redirects are not followed (a 3xx is a failure: the receiver must give its final URL)."""
    url = httpx.URL(target.url)
    pinned = url.copy_with(host=str(target.address))
    host_header = target.host if url.port is None else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", pinned, content=body, headers={**headers, "host": host_header},
                                           extensions=extensions)
            response = client.send(request, stream=True)
            text = targets.read_capped(response, RESPONSE_CAP)  # the rest is never read
    except httpx.HTTPError as exc:
        return Result(ok=False, latency_ms=int((time.perf_counter() - started) * 1000),
                      error=f"{type(exc).__name__}: {exc}"[:1000])
    latency = int((time.perf_counter() - started) * 1000)
    status = response.status_code
    return Result(ok=200 <= status < 300, status=status, headers=dict(response.headers), body=text,
                  latency_ms=latency, gone=status == 410, error=None if 200 <= status < 300 else f"HTTP {status}")


def send(db_session: Session, settings: Settings, *, log: WebhookLog, endpoint: WebhookEndpoint,
         now: datetime) -> Result:
    """One attempt for the log: check the target again, sign, POST, record the attempt and what follows it (the
    next attempt's time, or dead). The caller commits."""
    body = json.dumps(log.payload, separators=(",", ":"), ensure_ascii=False).encode()
    # the signature's timestamp is the wall clock of the send: receivers compare it with theirs (replay window)
    try:
        signing = secrets_for(settings, endpoint, now)
    except InvalidToken:
        signing = []
    headers = signed_headers(message_id=log.message_id, body=body, secrets=signing, sent_at=utcnow())
    try:
        target = targets.check(endpoint.url,
                               allow_private=endpoint.allow_private and settings.webhooks_allow_private_targets)
    except targets.UnsafeTarget as exc:
        result = Result(ok=False, error=f"refused: {exc}")
    else:
        result = (post(target, headers=headers, body=body) if signing else
                  Result(ok=False, error="the signing secret cannot be read (JWT_SECRET changed?): rotate it"))
    log.attempts += 1
    log.request_headers = {k: v for k, v in headers.items() if k != "webhook-signature"} | {
        "webhook-signature": f"<{len(headers['webhook-signature'].split())} signature(s)>"}
    log.request_body = body.decode()
    log.response_status, log.response_headers, log.response_body = result.status, result.headers, result.body
    log.latency_ms, log.error, log.updated_at = result.latency_ms, result.error, now
    if result.ok:
        log.status, log.next_attempt_at, log.delivered_at = LogStatus.succeeded, None, now
        endpoint.consecutive_failures = 0
        return result
    # in SQL, not read-modify-write: two logs of one endpoint may be sent at the same time
    endpoint.consecutive_failures = WebhookEndpoint.consecutive_failures + 1
    delay = None if result.gone else retry_delay(log.attempts)
    if delay is None:
        log.status, log.next_attempt_at = LogStatus.dead, None
    else:
        log.status, log.next_attempt_at = LogStatus.failed, now + delay
    if result.gone:
        # 410 Gone: the receiver says this endpoint is retired; stop sending until someone enables it again
        endpoint.enabled, endpoint.disabled_reason, endpoint.updated_at = False, "the receiver answered 410 Gone", now
    return result


@dataclass
class Outcome:
    succeeded: int = 0
    failed: int = 0
    dead: int = 0


def _claim(db_session: Session, now: datetime) -> tuple[WebhookLog, WebhookEndpoint] | None:
    row = db_session.execute(
        select(WebhookLog, WebhookEndpoint).join(WebhookEndpoint, WebhookEndpoint.id == WebhookLog.endpoint_id)
        .where(WebhookLog.status.in_([LogStatus.pending, LogStatus.failed]), WebhookLog.next_attempt_at <= now,
               WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookLog.next_attempt_at, WebhookLog.created_at)
        .limit(1).with_for_update(of=WebhookLog, skip_locked=True)
    ).first()
    return (row[0], row[1]) if row else None


def run(*, factory: sessionmaker[Session], settings: Settings, organization_id: uuid.UUID, now: datetime,
        limit: int = BATCH_LIMIT) -> Outcome:
    """Send the organization's due logs, one transaction each (a crash loses at most one attempt's record; the
    receiver dedupes on `webhook-id`)."""
    outcome = Outcome()
    for _ in range(limit):
        with tenant_session(factory, organization_id) as session:
            claimed = _claim(session, now)
            if claimed is None:
                break
            log, endpoint = claimed
            send(session, settings, log=log, endpoint=endpoint, now=now)
            status = log.status
        if status == LogStatus.succeeded:
            outcome.succeeded += 1
        elif status == LogStatus.dead:
            outcome.dead += 1
        else:
            outcome.failed += 1
    return outcome
