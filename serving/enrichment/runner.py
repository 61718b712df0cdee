"""Running the enrichment waterfall against the vendors (issue 17 §4, step 3) — no database here.

`run()` asks the organization's enabled providers in priority order, stops as soon as every wanted field has a
validated value with enough confidence (`waterfall.merge` decides per field), and returns the merged
`enrichment_data` plus one `RequestRecord` per provider considered: answered, no match, bad key, rate limited,
served from the cache (no vendor call, no cost), or skipped because the monthly cost cap would be exceeded.
Persisting the records and writing `prospects.enrichment_data` is the caller's job (`service.enrich_prospect`).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from serving.enrichment import clients
from serving.enrichment.clients import Lookup, NoMatch, ProviderError
from serving.enrichment.waterfall import FIELDS, ProviderAnswer, merge


@dataclass(frozen=True)
class ProviderSetting:
    name: str
    api_key: str
    priority: int = 100
    cost_cents: int = 0
    monthly_cap_cents: int | None = None
    spent_this_month_cents: int = 0


@dataclass(frozen=True)
class RequestRecord:
    provider: str
    status: str  # ok | no_match | bad_key | rate_limited | error | skipped_cost_cap
    fields_returned: tuple[str, ...] = ()
    cost_cents: int = 0
    latency_ms: int | None = None
    cache_hit: bool = False
    error: str | None = None
    retry_after: float | None = None  # a rate-limited vendor's Retry-After, in seconds


class Cache(Protocol):
    """Vendor answers (None: no match) per (provider, lookup key); `get` says (found, answer)."""

    def get(self, provider: str, key: str, now: datetime) -> tuple[bool, ProviderAnswer | None]: ...

    def put(self, provider: str, key: str, answer: ProviderAnswer | None, now: datetime) -> None: ...


@dataclass
class AnswerCache:
    """Vendor answers (and no-matches) per (provider, lookup key) for `ttl`; thread-safe, in-process (the service
    uses the Postgres one shared by every process, `service.PgAnswerCache`)."""

    ttl: timedelta = timedelta(days=30)
    _entries: dict[tuple[str, str], tuple[datetime, ProviderAnswer | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, provider: str, key: str, now: datetime) -> tuple[bool, ProviderAnswer | None]:
        with self._lock:
            entry = self._entries.get((provider, key))
            if entry is None or now - entry[0] > self.ttl:
                return False, None
            return True, entry[1]

    def put(self, provider: str, key: str, answer: ProviderAnswer | None, now: datetime) -> None:
        with self._lock:
            self._entries[(provider, key)] = (now, answer)


@dataclass(frozen=True)
class RunResult:
    enrichment_data: dict[str, dict[str, object]]
    requests: tuple[RequestRecord, ...]


def run(
    lookup: Lookup,
    providers: Sequence[ProviderSetting],
    *,
    http: httpx.Client,
    base_urls: dict[str, str],
    cache: Cache,
    now: datetime,
    wanted: Sequence[str] = FIELDS,
    min_confidence: float = 0.5,
    mx_check: Callable[[str], bool | None] | None = None,
) -> RunResult:
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise ValueError(f"unknown enrichment fields: {', '.join(unknown)}")
    ordered = sorted(providers, key=lambda p: (p.priority, p.name))
    priority = [p.name for p in ordered]
    answers: list[ProviderAnswer] = []
    records: list[RequestRecord] = []
    key = lookup.key()
    for setting in ordered:
        merged = merge(answers, priority=priority, now=now, min_confidence=min_confidence, mx_check=mx_check)
        if all(f in merged for f in wanted):
            break  # every wanted field already has a validated, confident value: ask nobody else
        hit, cached = cache.get(setting.name, key, now)
        if hit:
            if cached is not None:
                answers.append(cached)
            records.append(RequestRecord(setting.name, "ok" if cached else "no_match",
                                         tuple(sorted(cached.fields)) if cached else (), 0, 0, True))
            continue
        cap = setting.monthly_cap_cents
        if cap is not None and setting.spent_this_month_cents + setting.cost_cents > cap:
            records.append(RequestRecord(setting.name, "skipped_cost_cap", error=(
                f"monthly cost cap reached: {setting.spent_this_month_cents} of {cap} cents spent, "
                f"a request costs {setting.cost_cents}")))
            continue
        client = clients.CLIENTS[setting.name]
        started = time.monotonic()
        try:
            answer = client(http, base_urls[setting.name], setting.api_key, lookup)
        except NoMatch as exc:
            cache.put(setting.name, key, None, now)
            records.append(RequestRecord(setting.name, "no_match", (), setting.cost_cents,
                                         _ms(started), False, str(exc)))
            continue
        except ProviderError as exc:
            records.append(RequestRecord(setting.name, exc.code.lower(), (), 0, _ms(started), False, str(exc),
                                         getattr(exc, "retry_after", None)))
            continue
        except httpx.HTTPError as exc:
            records.append(RequestRecord(setting.name, "error", (), 0, _ms(started), False,
                                         f"{setting.name}: {type(exc).__name__}"))
            continue
        cache.put(setting.name, key, answer, now)
        answers.append(answer)
        records.append(RequestRecord(setting.name, "ok", tuple(sorted(answer.fields)), setting.cost_cents,
                                     _ms(started), False))
    data = merge(answers, priority=priority, now=now, min_confidence=min_confidence, mx_check=mx_check)
    return RunResult({f: v for f, v in data.items() if f in wanted}, tuple(records))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
