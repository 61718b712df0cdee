"""The unauthenticated email endpoints: open pixel, click redirect and unsubscribe page.

No principal here: the HMAC-signed token in the path is the only credential, and it names the
organization the transaction is bound to. Everything that needs a signed-in user is in `router.py`.
"""

from __future__ import annotations

import uuid
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.core.clock import utcnow
from serving.core.deps import AppSettings, DbSession
from serving.core.errors import AppError
from serving.core.schemas import HTML_ROUTE_ERRORS
from serving.emails import engagement, service, tracking
from serving.emails.models import Email

router = APIRouter()

NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


class InvalidLink(AppError):
    status_code = 404
    code = "INVALID_LINK"


def _verified(settings, token: str, kind: str) -> dict:
    try:
        return tracking.verify(token, settings.tracking_secret, kind=kind)
    except tracking.InvalidToken:
        raise InvalidLink("this link is invalid or has been tampered with") from None


def _tracked_email(db, payload: dict) -> Email:
    try:
        organization_id, email_id = uuid.UUID(payload["o"]), uuid.UUID(payload["e"])
    except (KeyError, ValueError):
        raise InvalidLink("this link is invalid") from None
    email = service.get_tracked(db_session=db, organization_id=organization_id, email_id=email_id, lock=True)
    if email is None:
        raise InvalidLink("this link no longer points at an email")
    return email


@router.get(
    "/t/o/{token}.gif",
    include_in_schema=True,
    summary="Open-tracking pixel",
    tags=["tracking"],
    responses={200: {"content": {"image/gif": {}}}},
)
def open_pixel(token: str, request: Request, db: DbSession, settings: AppSettings):
    email = _tracked_email(db, _verified(settings, token, "o"))
    engagement.track_open(
        db_session=db,
        email=email,
        occurred_at=utcnow(),
        useragent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)


@router.get(
    "/t/c/{token}", summary="Click-tracking redirect (signed target only)", tags=["tracking"], status_code=302
)
def click_redirect(token: str, request: Request, db: DbSession, settings: AppSettings):
    payload = _verified(settings, token, "c")
    url = str(payload.get("u") or "")
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidLink("this link is invalid")
    email = _tracked_email(db, payload)
    engagement.track_click(
        db_session=db,
        email=email,
        url=url,
        occurred_at=utcnow(),
        useragent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">{body}</body></html>"""


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=HTML_ROUTE_ERRORS,
    tags=["tracking"],
    summary="Unsubscribe landing page (confirms with a POST; GET changes nothing)",
)
def unsubscribe_page(token: str, settings: AppSettings):
    payload = _verified(settings, token, "u")
    body = (
        f"<h1>Unsubscribe</h1><p>Stop all emails to <b>{escape(payload['a'])}</b>?</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body))


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=HTML_ROUTE_ERRORS,
    tags=["tracking"],
    summary="RFC 8058 one-click unsubscribe (List-Unsubscribe-Post)",
)
def unsubscribe_one_click(token: str, db: DbSession, settings: AppSettings):
    payload = _verified(settings, token, "u")
    try:
        organization_id = uuid.UUID(payload["o"])
        email_id = uuid.UUID(payload["e"]) if payload.get("e") else None
    except (KeyError, ValueError):
        raise InvalidLink("this link is invalid") from None
    # bound to the token's organization even without an email: the unsubscribe is that organization's
    email = service.get_tracked(db_session=db, organization_id=organization_id, email_id=email_id)
    engagement.unsubscribe(
        db_session=db,
        organization_id=organization_id,
        address=payload["a"],
        email=email,
        source="one_click",
        occurred_at=utcnow(),
    )
    body = f"<h1>You are unsubscribed</h1><p>{escape(payload['a'])} will not receive further emails.</p>"
    return HTMLResponse(_PAGE.format(title="Unsubscribed", body=body))
