"""HTTP clients for the enrichment vendors (issue 17 §4, step 2).

Each client asks one vendor's documented lookup endpoint about one person and returns a `ProviderAnswer`
(through `mapping`) or raises:
- `NoMatch` — the vendor knows nobody for this lookup (404, an empty person, Clearbit's 202 "queued");
- `BadKey` — 401/403: the organization's key is wrong or revoked;
- `RateLimited` — 429, with the vendor's Retry-After when it sent one;
- `ProviderError` — anything else (5xx, a body that is not JSON, a network failure).
Base URLs come from settings (`CLEARBIT_BASE_URL`, …) so tests point them at local fake servers.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from serving.enrichment import mapping
from serving.enrichment.waterfall import ProviderAnswer

PROVIDERS = ("clearbit", "zoominfo", "apollo", "hunter", "pdl")


@dataclass(frozen=True)
class Lookup:
    """What we know about the prospect; the cache key is built from it."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_domain: str | None = None
    company_name: str | None = None

    def key(self) -> str:
        parts = (self.email, self.first_name, self.last_name, self.company_domain, self.company_name)
        return "|".join((p or "").strip().lower() for p in parts)


class ProviderError(Exception):
    code = "PROVIDER_ERROR"


class NoMatch(ProviderError):
    code = "NO_MATCH"


class BadKey(ProviderError):
    code = "BAD_KEY"


class RateLimited(ProviderError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _check(provider: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 404:
        raise NoMatch(f"{provider}: no match")
    if response.status_code in (401, 403):
        raise BadKey(f"{provider}: the API key was refused ({response.status_code})")
    if response.status_code == 429:
        retry = response.headers.get("Retry-After")
        try:
            retry_after = float(retry) if retry is not None else None
        except ValueError:
            retry_after = None
        raise RateLimited(f"{provider}: rate limited", retry_after)
    if response.status_code >= 400:
        raise ProviderError(f"{provider}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(f"{provider}: the answer is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderError(f"{provider}: unexpected answer")
    return body


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def clearbit(http: httpx.Client, base_url: str, api_key: str, lookup: Lookup) -> ProviderAnswer:
    """Clearbit Combined API: `GET /v2/combined/find?email=` with the key as Bearer token."""
    if not lookup.email:
        raise NoMatch("clearbit: needs an e-mail")
    response = http.get(f"{base_url}/v2/combined/find", params={"email": lookup.email},
                        headers={"Authorization": f"Bearer {api_key}"})
    if response.status_code == 202:  # lookup queued on Clearbit's side: nothing to use now
        raise NoMatch("clearbit: lookup queued (202)")
    body = _check("clearbit", response)
    if not body.get("person") and not body.get("company"):
        raise NoMatch("clearbit: no match")
    return mapping.from_clearbit(body)


# ZoomInfo's JWTs (valid 60 minutes) per credentials, renewed five minutes early; one process-wide table.
_ZOOMINFO_JWTS: dict[str, tuple[float, str]] = {}
_ZOOMINFO_LOCK = threading.Lock()
ZOOMINFO_JWT_SECONDS = 55 * 60


def _zoominfo_jwt(http: httpx.Client, base_url: str, api_key: str, *, fresh: bool = False) -> str:
    """The key as given when it already is a JWT; `username:password` (ZoomInfo's basic API credentials) is
    exchanged at `POST /authenticate` for a JWT, reused until shortly before its hour is up."""
    if api_key.count(".") == 2 or ":" not in api_key:
        return api_key
    slot = hashlib.sha256(f"{base_url}|{api_key}".encode()).hexdigest()
    with _ZOOMINFO_LOCK:
        cached = _ZOOMINFO_JWTS.get(slot)
    if cached is not None and not fresh and cached[0] > time.monotonic():
        return cached[1]
    username, _, password = api_key.partition(":")
    body = _check("zoominfo", http.post(f"{base_url}/authenticate", json={"username": username,
                                                                           "password": password}))
    if not isinstance(body.get("jwt"), str):
        raise ProviderError("zoominfo: /authenticate answered no jwt")
    with _ZOOMINFO_LOCK:
        _ZOOMINFO_JWTS[slot] = (time.monotonic() + ZOOMINFO_JWT_SECONDS, body["jwt"])
    return body["jwt"]


def zoominfo(http: httpx.Client, base_url: str, api_key: str, lookup: Lookup) -> ProviderAnswer:
    """ZoomInfo Enrich Contact: `POST /enrich/contact` with a JWT as Bearer token (the stored key is a JWT, or the
    `username:password` that `POST /authenticate` exchanges for one; a JWT refused mid-hour is renewed once)."""
    match_input = _params(emailAddress=lookup.email, firstName=lookup.first_name, lastName=lookup.last_name,
                          companyName=lookup.company_name)
    if lookup.company_domain:
        match_input["companyWebsite"] = lookup.company_domain
    payload = {"matchPersonInput": [match_input], "outputFields": list(mapping.ZOOMINFO_OUTPUT_FIELDS)}
    jwt = _zoominfo_jwt(http, base_url, api_key)
    response = http.post(f"{base_url}/enrich/contact", headers={"Authorization": f"Bearer {jwt}"}, json=payload)
    if response.status_code == 401 and jwt != api_key:
        jwt = _zoominfo_jwt(http, base_url, api_key, fresh=True)
        response = http.post(f"{base_url}/enrich/contact", headers={"Authorization": f"Bearer {jwt}"},
                             json=payload)
    body = _check("zoominfo", response)
    results = (body.get("data") or {}).get("result") or []
    if not results or not (results[0].get("data") or []):
        raise NoMatch("zoominfo: no match")
    return mapping.from_zoominfo(body)


def apollo(http: httpx.Client, base_url: str, api_key: str, lookup: Lookup) -> ProviderAnswer:
    """Apollo People Enrichment: `POST /api/v1/people/match` with the key in `X-Api-Key`."""
    response = http.post(f"{base_url}/api/v1/people/match", headers={"X-Api-Key": api_key}, json=_params(
        email=lookup.email, first_name=lookup.first_name, last_name=lookup.last_name, domain=lookup.company_domain,
        organization_name=lookup.company_name))
    body = _check("apollo", response)
    if not body.get("person"):
        raise NoMatch("apollo: no match")
    return mapping.from_apollo(body)


def hunter(http: httpx.Client, base_url: str, api_key: str, lookup: Lookup) -> ProviderAnswer:
    """Hunter Email Finder: `GET /v2/email-finder?domain=&first_name=&last_name=&api_key=`; when the e-mail is
    already known, the Email Verifier (`GET /v2/email-verifier?email=`) scores it instead."""
    if lookup.email:
        response = http.get(f"{base_url}/v2/email-verifier", params={"email": lookup.email, "api_key": api_key})
        body = _check("hunter", response)
        data = body.get("data") or {}
        if data.get("status") == "invalid" or data.get("result") == "undeliverable":
            raise NoMatch("hunter: the e-mail is undeliverable")
        return ProviderAnswer("hunter", {"email": data.get("email")} if data.get("email") else {},
                              confidence=min(max(float(data.get("score") or 0), 0.0), 100.0) / 100)
    if not (lookup.company_domain and lookup.first_name and lookup.last_name):
        raise NoMatch("hunter: needs a domain and a full name")
    response = http.get(f"{base_url}/v2/email-finder", params={
        "domain": lookup.company_domain, "first_name": lookup.first_name, "last_name": lookup.last_name,
        "api_key": api_key})
    body = _check("hunter", response)
    if not (body.get("data") or {}).get("email"):
        raise NoMatch("hunter: no match")
    return mapping.from_hunter(body)


def pdl(http: httpx.Client, base_url: str, api_key: str, lookup: Lookup) -> ProviderAnswer:
    """People Data Labs Person Enrichment: `GET /v5/person/enrich` with the key in `X-Api-Key`."""
    params = _params(email=lookup.email, first_name=lookup.first_name, last_name=lookup.last_name,
                     company=lookup.company_domain or lookup.company_name)
    response = http.get(f"{base_url}/v5/person/enrich", params=params, headers={"X-Api-Key": api_key})
    body = _check("pdl", response)
    if not body.get("data"):
        raise NoMatch("pdl: no match")
    return mapping.from_pdl(body)


Client = Callable[[httpx.Client, str, str, Lookup], ProviderAnswer]
CLIENTS: dict[str, Client] = {
    "clearbit": clearbit, "zoominfo": zoominfo, "apollo": apollo, "hunter": hunter, "pdl": pdl,
}


def base_urls(settings: Any) -> dict[str, str]:
    return {name: str(getattr(settings, f"{name}_base_url")).rstrip("/") for name in PROVIDERS}
