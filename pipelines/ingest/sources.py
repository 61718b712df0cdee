"""The file-fed sources: which raw table each fills, how a record becomes a row, how duplicates are found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pipelines.ingest import enrichment, intent
from serving.events.records import EMAIL_EVENT_COLUMNS, WEBSITE_EVENT_COLUMNS, segment_row, sendgrid_row


@dataclass(frozen=True)
class Source:
    name: str
    table: str
    columns: tuple[str, ...]
    row: Callable[..., dict[str, Any]]
    csv_required: frozenset[str] = frozenset()
    unwrap: str | None = None
    # the unique constraint duplicates are checked against (None: append every row)
    conflict: str | None = None

    def make_row(self, value: Any, *, organization_id: str, loaded_at: datetime) -> dict[str, Any]:
        return self.row(value, organization_id=organization_id)


def _website(value: Any, *, organization_id: str, received_at: datetime | None = None) -> dict[str, Any]:
    return segment_row(value, organization_id=organization_id, received_at=received_at or datetime.now(UTC))


SOURCES: dict[str, Source] = {
    "email_events": Source("email_events", "raw.email_events", EMAIL_EVENT_COLUMNS,
                           partial(sendgrid_row, raw=None), conflict="(sg_event_id)"),
    "website_events": Source("website_events", "raw.website_events", WEBSITE_EVENT_COLUMNS, _website,
                             unwrap="batch", conflict="(organization_id, message_id)"),
    "enrichment_records": Source("enrichment_records", "raw.enrichment_records", enrichment.COLUMNS,
                                 enrichment.enrichment_row, frozenset(enrichment.CSV_REQUIRED)),
    "intent_signals": Source("intent_signals", "raw.intent_signals", intent.COLUMNS, intent.intent_row,
                             frozenset(intent.CSV_REQUIRED)),
}
