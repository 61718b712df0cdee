"""The one writer of the API's rows in the `raw` landing tables (the data platform reads them with dbt).

The webhook intake (`serving/events`) and the email domain's own tracking events both land `raw.email_events`
rows here, with one column list, so the two can never drift apart; pipelines load files with the same lists.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

EMAIL_EVENT_COLUMNS = (
    "organization_id", "sg_event_id", "sg_message_id", "event", "email", "occurred_at", "email_id", "prospect_id",
    "campaign_id", "cadence_id", "template_id", "url", "reason", "status", "bounce_type", "useragent", "ip",
    "payload",
)
WEBSITE_EVENT_COLUMNS = (
    "organization_id", "message_id", "type", "event", "anonymous_id", "user_id", "email", "url", "path", "title",
    "referrer", "properties", "traits", "context", "occurred_at", "sent_at", "received_at",
)
# the intent feeds' columns (pipelines/ingest/intent.py lands files with the same list); the knowledge base's
# buying signals are landed by the API here
INTENT_SIGNAL_COLUMNS = (
    "organization_id", "signal_type", "account_domain", "prospect_email", "topic", "strength", "occurred_at",
    "expires_at", "provider", "payload",
)
JSON_COLUMNS = frozenset({"payload", "properties", "traits", "context"})


def insert_rows(db_session: Session, table: str, columns: tuple[str, ...], rows: list[dict], *, source: str,
                request_id: str | None, deduplicate: bool = True, json_columns: frozenset[str] = JSON_COLUMNS
                ) -> int:
    """Insert `rows` (dicts with every name in `columns`; JSON columns as JSON text); returns how many were new.

    No conflict target: the API role may only insert into raw tables, and a target needs SELECT; the tables'
    unique keys make a repeated event a no-op.
    """
    if not rows:
        return 0
    names = [*columns, "source", "request_id"]
    values = ", ".join(f"cast(:{n} as jsonb)" if n in json_columns else f":{n}" for n in names)
    statement = text(f"insert into {table} ({', '.join(names)}) values ({values})"
                     f"{' on conflict do nothing' if deduplicate else ''}")
    result = db_session.execute(statement, [{**row, "source": source, "request_id": request_id} for row in rows])
    return result.rowcount
