"""Reactions of integrations to domain events: an installed Slack posts the events its settings chose to its
channel. Runs in the worker's event delivery (a Slack outage fails the delivery, which is retried with backoff);
never in the request that made the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.core.outbox import Event, Subscriber
from serving.core.queue import runtime
from serving.integrations import service
from serving.integrations.models import IntegrationStatus, TeamIntegration

# what a sales channel wants to hear about (settings' `events` must be among them)
SLACK_EVENTS = frozenset({"deal.won", "deal.lost", "deal.stage_changed", "bdr.handoff_ready", "meeting.scheduled",
                          "email.replied", "intent.spike_detected", "prospect.qualified"})
_SHOWN = ("name", "dealName", "prospectName", "email", "stage", "amount", "summary", "reason", "intentScore")


def message(event: Event) -> str:
    """One line a person reads: the event in words and its telling fields."""
    title = event.type.replace(".", " ").replace("_", " ").capitalize()
    details = [f"{key}: {event.payload[key]}" for key in _SHOWN if event.payload.get(key) not in (None, "")]
    return f"*{title}*" + (" — " + ", ".join(details) if details else "")


def on_event(*, db_session: Session, event: Event) -> None:
    row = db_session.scalar(select(TeamIntegration).where(TeamIntegration.provider == "slack",
                                                         TeamIntegration.status == IntegrationStatus.connected))
    config: dict[str, Any] = (row.config or {}) if row is not None else {}
    if row is None or event.type not in config.get("events", []) or not config.get("channel"):
        return
    with service.context(db_session=db_session, settings=runtime().settings, row=row) as (connector, ctx):
        connector.notify(ctx, message(event))


SUBSCRIBERS = [Subscriber("integrations.slack", SLACK_EVENTS, on_event)]
