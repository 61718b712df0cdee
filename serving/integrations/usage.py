"""`track_api_call`: every outbound call an integration makes is counted here, per integration per hour.

The health score is derived from the same numbers (see `health_score`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.integrations.models import IntegrationUsageAnalytics

MAX_LATENCY_SAMPLES = 500  # per hour: bounds the row while keeping a meaningful p95


def track_api_call(session: Session, *, organization_id: uuid.UUID, integration_id: uuid.UUID, ok: bool,
                   latency_ms: int, cost_micros: int, at: datetime) -> None:
    """Adds one call to its hour's row (an upsert, so concurrent workers never lose a count). Does not commit."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    latency_ms = max(0, int(latency_ms))
    table = IntegrationUsageAnalytics.__table__
    statement = insert(IntegrationUsageAnalytics).values(
        id=uuid.uuid4(), organization_id=organization_id, integration_id=integration_id, hour=hour, calls=1,
        errors=0 if ok else 1, latency_ms_sum=latency_ms, latency_ms_samples=[latency_ms], cost_micros=cost_micros)
    samples = table.c.latency_ms_samples
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.integration_id, table.c.hour],
        set_={
            "calls": table.c.calls + 1,
            "errors": table.c.errors + (0 if ok else 1),
            "latency_ms_sum": table.c.latency_ms_sum + latency_ms,
            # keep only the first samples of the hour: enough for a p95, bounded in size
            "latency_ms_samples": _append_bounded(samples, latency_ms),
            "cost_micros": table.c.cost_micros + cost_micros,
        })
    session.execute(statement)


def _append_bounded(samples: ColumnElement, latency_ms: int) -> ColumnElement:
    return case((func.jsonb_array_length(samples) >= MAX_LATENCY_SAMPLES, samples),
                else_=samples.op("||")(func.jsonb_build_array(latency_ms)))


def usage_since(session: Session, *, integration_id: uuid.UUID, since: datetime) -> tuple[int, int, int]:
    """(calls, errors, latency sum in ms) since a moment."""
    row = session.execute(
        select(func.coalesce(func.sum(IntegrationUsageAnalytics.calls), 0),
               func.coalesce(func.sum(IntegrationUsageAnalytics.errors), 0),
               func.coalesce(func.sum(IntegrationUsageAnalytics.latency_ms_sum), 0))
        .where(IntegrationUsageAnalytics.integration_id == integration_id, IntegrationUsageAnalytics.hour >= since)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def health_score(*, calls: int, errors: int, latency_ms_sum: int, auth_ok: bool) -> int:
    """0–100. Start at 100; lose up to 60 for the error rate (linear), up to 20 for mean latency above 500 ms
    (linear to 5 s), and 40 when the credentials are expired or refused. No calls yet: only the auth term counts."""
    score = 100.0
    if calls > 0:
        score -= 60.0 * (errors / calls)
        mean = latency_ms_sum / calls
        score -= 20.0 * min(max(mean - 500.0, 0.0) / 4500.0, 1.0)
    if not auth_ok:
        score -= 40.0
    return max(0, min(100, round(score)))
