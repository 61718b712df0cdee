"""Signed tracking links: open pixel, click redirect and unsubscribe, verified with HMAC-SHA256.

A token is `base64url(json payload).base64url(hmac)`; the click target lives inside the signed
payload, so the redirect can only go where the sender's email pointed (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from functools import lru_cache
from html import escape, unescape

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


class InvalidToken(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


@lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """The HMAC keyed with `secret` and nothing hashed yet: copying it skips the key schedule, which was
    most of signing one link (a bulk batch signs one unsubscribe link per recipient)."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def sign(payload: dict, secret: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = _keyed(secret).copy()
    mac.update(f"v1.{body}".encode())
    return f"{body}.{_b64(mac.digest())}"


def verify(token: str, secret: bytes, *, kind: str) -> dict:
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(secret, f"v1.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise InvalidToken("bad signature")
        payload = json.loads(_unb64(body))
    except InvalidToken:
        raise
    except Exception:
        raise InvalidToken("malformed token") from None
    if not isinstance(payload, dict) or payload.get("k") != kind:
        raise InvalidToken("wrong token kind")
    return payload


def open_url(base: str, secret: bytes, *, organization_id: uuid.UUID, email_id: uuid.UUID) -> str:
    token = sign({"k": "o", "o": str(organization_id), "e": str(email_id)}, secret)
    return f"{base}/api/v1/t/o/{token}.gif"


def click_url(base: str, secret: bytes, *, organization_id: uuid.UUID, email_id: uuid.UUID, url: str) -> str:
    token = sign({"k": "c", "o": str(organization_id), "e": str(email_id), "u": url}, secret)
    return f"{base}/api/v1/t/c/{token}"


def unsubscribe_url(
    base: str, secret: bytes, *, organization_id: uuid.UUID, email_id: uuid.UUID | None, address: str
) -> str:
    payload = {"k": "u", "o": str(organization_id), "a": address.lower()}
    if email_id:
        payload["e"] = str(email_id)
    return f"{base}/api/v1/unsubscribe/{sign(payload, secret)}"


def rewrite_links(html: str, rewrite) -> str:
    """Replace every http(s) `<a href>` with `rewrite(url)`; mailto:, anchors and unsubscribe links stay."""

    def _sub(match: re.Match) -> str:
        url = unescape(match.group(3)).strip()
        if not url.lower().startswith(("http://", "https://")) or "/api/v1/unsubscribe/" in url:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{escape(rewrite(url), quote=True)}{match.group(2)}"

    return _HREF.sub(_sub, html)


def add_pixel(html: str, pixel_url: str) -> str:
    tag = f'<img src="{escape(pixel_url, quote=True)}" width="1" height="1" alt="" style="display:none">'
    lower = html.lower()
    at = lower.rfind("</body>")
    return html[:at] + tag + html[at:] if at >= 0 else html + tag
