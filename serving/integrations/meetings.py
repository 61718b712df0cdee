"""A meeting booked with someone through a calendar integration lands on the prospect's timeline: a
`meeting_scheduled` activity (which publishes `meeting.scheduled`: cadences pause, the owner is notified), once per
booking; a cancellation is a note on the same timeline, once. Someone who is not a prospect yet becomes one
(source = the integration): a person who booked time is a lead worth keeping."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.activities import service as activities
from serving.activities.models import Activity, ActivityType
from serving.core.permissions import Role
from serving.core.principal import Principal
from serving.integrations.models import TeamIntegration
from serving.prospects import service as prospects
from serving.prospects.schemas import ProspectCreate


def _done(db_session: Session, key: str) -> bool:
    return db_session.scalar(select(Activity.id).where(Activity.metadata_["bookingKey"].astext == key).limit(1)) \
        is not None


def record(*, db_session: Session, integration: TeamIntegration, booking: str, email: str, name: str | None,
           title: str | None, start: str | None, canceled: bool, now: datetime) -> str:
    """`booking` identifies the booking at the provider (Calendly's invitee URI). Returns what was done."""
    key = f"{integration.provider}:{booking}:{'canceled' if canceled else 'booked'}"
    if _done(db_session, key):
        return "done_before"
    prospect = prospects.get_by_email(db_session=db_session, email=email)
    if prospect is None:
        if canceled:
            return "unknown_person"
        first, _, last = (name or "").partition(" ")
        actor = Principal(organization_id=integration.organization_id, user_id=integration.installed_by,
                          role=Role.admin)
        prospect = prospects.create(db_session=db_session, principal=actor, data=ProspectCreate(
            email=email, first_name=first or None, last_name=last or None, source=integration.provider))
    label = title or "a meeting"
    activities.record(
        db_session=db_session, organization_id=integration.organization_id,
        type=ActivityType.note_added if canceled else ActivityType.meeting_scheduled,
        user_id=integration.installed_by, prospect_id=prospect.id, account_id=prospect.account_id,
        subject=(f"Canceled in {integration.provider.capitalize()}: {label}" if canceled
                 else f"Booked in {integration.provider.capitalize()}: {label}"),
        metadata={"bookingKey": key, "provider": integration.provider, "startTime": start, "booking": booking},
        occurred_at=now)
    return "canceled" if canceled else "booked"
