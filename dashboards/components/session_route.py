"""The route that turns a signed-in Streamlit session's one-time ticket into the HttpOnly session cookie (POST)
and deletes the cookie (DELETE): a Streamlit script cannot set an HttpOnly cookie itself. Mounted by
`dashboards/server.py`; see `session.py` and docs/dashboards.md."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dashboards.components import session


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": code, "message": message, "details": None}},
                        status_code=status)


def _same_origin(request: Request) -> bool:
    # Browsers send Origin on every POST/DELETE fetch; a page elsewhere cannot make it ours. Checked so that
    # another site cannot post its own ticket and sign the visitor into the wrong account (login CSRF).
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def keep_session(request: Request) -> Response:
    if not _same_origin(request):
        return _refused(403, "FORBIDDEN", "cross-origin requests are not accepted")
    response = Response(status_code=204)
    if request.method == "DELETE":
        response.delete_cookie(session.COOKIE_NAME, path="/", httponly=True, samesite="lax")
        return response
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _refused(415, "UNSUPPORTED_MEDIA_TYPE", "send the ticket as application/json")
    try:
        body = await request.json()
    except ValueError:
        body = None
    ticket = body.get("ticket") if isinstance(body, dict) else None
    redeemed = session.redeem_ticket(ticket) if isinstance(ticket, str) else None
    if redeemed is None:
        return _refused(400, "INVALID_TICKET", "the ticket is unknown, used or older than a minute")
    token, expires_at = redeemed
    max_age = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(session.COOKIE_NAME, token, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


route = Route(session.SESSION_ROUTE, keep_session, methods=["POST", "DELETE"])
