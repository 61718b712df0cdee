"""The timeline as a subscriber: automatic activities (email life, status and stage changes, score crossings)
are written from domain events, so no other domain builds `Activity` rows.

Each entry carries the event id in its metadata. The outbox marks the delivery done in the same transaction as the
insert, so an event gives exactly one entry. An event whose prospect or deal is gone by the time it is delivered
leaves nothing (the timeline it belonged to was deleted with it).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from serving.accounts.models import Account
from serving.activities import service
from serving.activities.models import ActivityType
from serving.core.outbox import Event, Subscriber
from serving.deals.models import Deal
from serving.prospects.models import Prospect


def _exists(db_session: Session, model: type, row_id: Any) -> bool:
    return row_id is not None and db_session.get(model, uuid.UUID(str(row_id))) is not None


def _id(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def _entry(db_session: Session, event: Event, *, type: ActivityType, subject: str, metadata: dict[str, Any],
           prospect_id: Any = None, deal_id: Any = None, account_id: Any = None, user_id: Any = None,
           team_id: Any = None, description: str | None = None) -> None:
    if prospect_id is not None and not _exists(db_session, Prospect, prospect_id):
        return
    if deal_id is not None and not _exists(db_session, Deal, deal_id):
        if prospect_id is None:
            return
        deal_id = None
    if account_id is not None and not _exists(db_session, Account, account_id):
        account_id = None
    service.record(
        db_session=db_session, organization_id=event.organization_id, type=type, user_id=_id(user_id),
        team_id=_id(team_id), prospect_id=_id(prospect_id), deal_id=_id(deal_id), account_id=_id(account_id),
        subject=subject, description=description, metadata={**metadata, "eventId": str(event.id)},
        occurred_at=event.occurred_at,
    )


# -- emails -----------------------------------------------------------------------------------

EMAIL_ENTRIES = {
    "email.sent": ActivityType.email_sent,
    "email.opened": ActivityType.email_opened,
    "email.clicked": ActivityType.email_clicked,
    "email.replied": ActivityType.email_received,
    "email.bounced": ActivityType.email_bounced,
    "email.spam_reported": ActivityType.email_unsubscribed,
    "email.unsubscribed": ActivityType.email_unsubscribed,
}


def _email_subject(event: Event) -> str:
    payload, detail = event.payload, event.payload.get("detail") or {}
    subject = payload.get("subject")
    return {
        "email.sent": f"Email sent: {subject}",
        "email.opened": f"Opened: {subject}",
        "email.clicked": f"Clicked: {detail.get('url')}",
        "email.replied": f"Reply: {subject}",
        "email.bounced": f"{str(detail.get('bounceType') or 'hard').capitalize()} bounce",
        "email.spam_reported": "Spam complaint",
        "email.unsubscribed": "Unsubscribed",
    }[event.type]


def on_email_event(*, db_session: Session, event: Event) -> None:
    payload = event.payload
    # Opens and clicks are on the timeline once per email; every one of them is still an event.
    if event.type in ("email.opened", "email.clicked") and not payload.get("first", True):
        return
    # An unsubscribe is on the timeline when it came from one of our emails and suppressed the address anew.
    if event.type == "email.unsubscribed" and not (payload.get("first") and payload.get("emailId")):
        return
    if not payload.get("prospectId"):
        return
    metadata = {
        **({"emailId": payload["emailId"]} if payload.get("emailId") else {}),
        **({"cadenceId": payload["cadenceId"]} if payload.get("cadenceId") else {}),
        **(payload.get("detail") or {}),
    }
    _entry(db_session, event, type=EMAIL_ENTRIES[event.type], subject=_email_subject(event), metadata=metadata,
           prospect_id=payload.get("prospectId"), deal_id=payload.get("dealId"), user_id=payload.get("userId"),
           team_id=payload.get("teamId"))


# -- prospects and deals ------------------------------------------------------------------------


def on_prospect_updated(*, db_session: Session, event: Event) -> None:
    status = event.payload["changes"].get("status")
    if status is None:
        return
    _entry(db_session, event, type=ActivityType.status_change, subject=f"Status changed to {status['to']}",
           metadata={"field": "status", "from": status["from"], "to": status["to"]},
           prospect_id=event.payload["prospectId"], account_id=event.payload.get("accountId"),
           user_id=event.actor_user_id, team_id=event.payload.get("actorTeamId"))


def on_deal_stage_changed(*, db_session: Session, event: Event) -> None:
    p = event.payload
    _entry(db_session, event, type=ActivityType.status_change,
           subject=f"Stage changed from {p['fromStage']} to {p['toStage']}",
           metadata={"field": "stage", "from": p["fromStage"], "to": p["toStage"]},
           deal_id=p["dealId"], account_id=p.get("accountId"), user_id=event.actor_user_id, team_id=p.get("teamId"))


# -- lead scoring -----------------------------------------------------------------------------

SCORE_THRESHOLD_KIND = "score_threshold_crossed"


def on_score_threshold_crossed(*, db_session: Session, event: Event) -> None:
    p = event.payload
    previous = p.get("previousScore")
    was = f"Lead score rose from {previous}" if previous is not None else "First lead score"
    _entry(db_session, event, type=ActivityType.note_added, subject=f"Lead score crossed {p['threshold']}",
           description=f"{was} to {p['score']} (threshold {p['threshold']}).",
           metadata={"kind": SCORE_THRESHOLD_KIND, "threshold": p["threshold"], "previous_score": previous,
                     "score": p["score"], "tier": p.get("tier"), "model_version": p.get("modelVersion")},
           prospect_id=p["prospectId"], team_id=p.get("teamId"))


SUBSCRIBERS = [
    Subscriber("timeline.email", frozenset(EMAIL_ENTRIES), on_email_event),
    Subscriber("timeline.prospect_status", frozenset({"prospect.updated"}), on_prospect_updated),
    Subscriber("timeline.deal_stage", frozenset({"deal.stage_changed"}), on_deal_stage_changed),
    Subscriber("timeline.score_threshold", frozenset({"lead.score_threshold_crossed"}), on_score_threshold_crossed),
]
