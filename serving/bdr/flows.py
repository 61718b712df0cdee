"""The BDR agent reacts to replies: an `email.replied` for a prospect the agent engaged enqueues the per-prospect
`bdr.reply` job (classify and act). The job, not the subscriber, does the work: drafting an answer or qualifying
may take a while, and the delivery of other subscribers should not wait for it."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from serving.bdr import agent
from serving.bdr.jobs import REPLY_TASK
from serving.core.outbox import Event, Subscriber
from serving.core.queue import enqueue


def on_reply(*, db_session: Session, event: Event) -> None:
    prospect_id = event.payload.get("prospectId")
    if not prospect_id:
        return
    config = agent.get_config(db_session=db_session, organization_id=event.organization_id)
    if config is None or not config.enabled:
        return
    if not agent.engaged(db_session=db_session, prospect_id=uuid.UUID(prospect_id)):
        return  # a reply to a human rep's e-mail is the rep's business
    detail = event.payload.get("detail") or {}
    enqueue(db_session, REPLY_TASK, queueing_lock=f"bdr.reply:{event.id}",
            organization_id=str(event.organization_id), prospect_id=prospect_id,
            text=detail.get("snippet") or "", sender=detail.get("from"), email_id=event.payload.get("emailId"),
            reply_key=str(event.id))


SUBSCRIBERS = [Subscriber("bdr.handle_reply", frozenset({"email.replied"}), on_reply)]
