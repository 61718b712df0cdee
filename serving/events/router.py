"""HTTP only: the Segment-compatible tracking endpoints and SendGrid's Event Webhook.

`router` is mounted twice: at the host root as `/v1/*` (Segment's HTTP Tracking API paths, so Segment's
libraries work with `host=<API base URL>`) and at `/api/v1/events/*`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.auth.principals import principal_from_api_key
from serving.core.deps import AppSettings, DbSession
from serving.core.errors import Forbidden, Unauthorized
from serving.core.validation import unstorable_path
from serving.emails.provider_events import apply_email_event
from serving.events import service
from serving.events.schemas import SEGMENT_BATCH, SEGMENT_MESSAGE, SENDGRID_EVENTS, Accepted, json_body

router = APIRouter()
webhook_router = APIRouter()
SCOPE = "events:write"


async def _track(request: Request, db, kind: str | None) -> Accepted:
    body = service.parse_body(await request.body(), batch=kind is None,
                              content_encoding=request.headers.get("content-encoding"))
    key = service.write_key(api_key_header=request.headers.get("x-api-key"),
                            authorization=request.headers.get("authorization"), body=body)
    if not key:
        raise Unauthorized("send the write key (an API key with events:write) as writeKey, Basic auth or X-API-Key",
                           code="WRITE_KEY_REQUIRED")
    principal = principal_from_api_key(request, db, key)
    if not principal.can(SCOPE):
        raise Forbidden(f"this API key lacks the '{SCOPE}' scope", code="INSUFFICIENT_SCOPE",
                        details={"requiredScope": SCOPE})
    messages = service.segment_messages(body, kind=kind)
    service.store_segment(db, messages, organization_id=str(principal.organization_id),
                          request_id=request.state.request_id)
    return Accepted()


# Segment's call types: path → (kind, one-line summary); kind None is a batch of mixed calls.
SEGMENT_CALLS = {
    "/track": ("track", "Segment track call"),
    "/page": ("page", "Segment page call"),
    "/identify": ("identify", "Segment identify call (maps anonymousId → prospect)"),
    "/screen": ("screen", "Segment screen call (a mobile app screen view)"),
    "/group": ("group", "Segment group call (user → account, groupId required)"),
    "/alias": ("alias", "Segment alias call (previousId → userId)"),
    "/batch": (None, "Segment batch (up to 500 KB, 2,500 events)"),
    "/import": (None, "Segment import (the older name of batch)"),
}


def _segment_route(kind: str | None):
    async def endpoint(request: Request, db: DbSession) -> Accepted:
        return await _track(request, db, kind)
    return endpoint


for _path, (_kind, _summary) in SEGMENT_CALLS.items():
    router.add_api_route(
        _path, _segment_route(_kind), methods=["POST"], response_model=Accepted, summary=_summary,
        name=f"segment_{_path.strip('/')}",
        openapi_extra=json_body(SEGMENT_BATCH if _kind is None else SEGMENT_MESSAGE))


@webhook_router.post("/emails/webhook/sendgrid", response_model=Accepted, tags=["events"],
                     summary="SendGrid Event Webhook (signed when SENDGRID_WEBHOOK_VERIFICATION_KEY is set)",
                     openapi_extra=json_body(SENDGRID_EVENTS))
async def sendgrid_webhook(request: Request, db: DbSession, settings: AppSettings) -> Accepted:
    body = await request.body()
    if settings.sendgrid_webhook_verification_key:
        service.verify_sendgrid_signature(
            public_key_b64=settings.sendgrid_webhook_verification_key,
            signature_b64=request.headers.get(service.SIGNATURE_HEADER),
            timestamp=request.headers.get(service.TIMESTAMP_HEADER), body=body,
        )
    elif settings.environment == "production":
        raise Forbidden("SENDGRID_WEBHOOK_VERIFICATION_KEY is not configured", code="INVALID_SIGNATURE")
    events = service.parse_body(body, batch=True)
    service.store_sendgrid(db, events, request_id=request.state.request_id)
    # Same transaction: the raw event and its roll-up onto the email (status, opens, suppression) land together.
    for event in events:
        if isinstance(event, dict) and unstorable_path(event) is None:  # quarantined by store_sendgrid
            apply_email_event(db_session=db, event=event, settings=settings)
    return Accepted()
