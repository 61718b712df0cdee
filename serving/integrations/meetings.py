"""A meeting booked with someone through a calendar integration lands on the prospect's timeline: a
`meeting_scheduled` activity (which publishes `meeting.scheduled`: cadences pause, the owner is notified), once per
booking; a cancellation is a note on the same timeline, once. From a scheduling link (Calendly) someone who is not
a prospect yet becomes one (source = the integration): a person who booked time is a lead worth keeping; from a
calendar (Google Calendar) only people who already are prospects count — a calendar is full of colleagues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.activities import service as activities
from serving.activities.models import Activity, ActivityType
from serving.core.permissions import Role
from serving.core.principal import Principal
from serving.integrations.connectors import CONNECTORS
from serving.integrations.models import TeamIntegration
from serving.prospects import service as prospects
from serving.prospects.models import Prospect
from serving.prospects.schemas import ProspectCreate


def _done(db_session: Session, key: str) -> bool:
    return db_session.scalar(select(Activity.id).where(Activity.metadata_["bookingKey"].astext == key).limit(1)) \
        is not None


def _label(integration: TeamIntegration) -> str:
    connector = CONNECTORS.get(integration.provider)
    return connector.name if connector is not None else integration.provider.capitalize()


def record(*, db_session: Session, integration: TeamIntegration, booking: str, email: str, name: str | None,
           title: str | None, start: str | None, canceled: bool, now: datetime, create_missing: bool = True,
           event_id: str | None = None) -> str:
    """`booking` identifies the booking at the provider (Calendly's invitee URI; a calendar event, its start and
    the attendee). Returns what was done: booked, canceled, done_before, unknown_person."""
    key = f"{integration.provider}:{booking}:{'canceled' if canceled else 'booked'}"
    if _done(db_session, key):
        return "done_before"
    prospect = prospects.get_by_email(db_session=db_session, email=email)
    if prospect is None:
        if canceled or not create_missing:
            return "unknown_person"
        first, _, last = (name or "").partition(" ")
        actor = Principal(organization_id=integration.organization_id, user_id=integration.installed_by,
                          role=Role.admin)
        prospect = prospects.create(db_session=db_session, principal=actor, data=ProspectCreate(
            email=email, first_name=first or None, last_name=last or None, source=integration.provider))
    _write(db_session, integration, prospect, key=key, booking=booking, title=title, start=start,
           canceled=canceled, now=now, event_id=event_id)
    return "canceled" if canceled else "booked"


def cancel_missing(*, db_session: Session, integration: TeamIntegration, event_id: str, attending: set[str],
                   title: str | None, now: datetime) -> int:
    """A calendar event cancelled, or a prospect who declined or was taken off it: every meeting booked from this
    event for a prospect no longer `attending` gets its cancellation note, once. Returns how many."""
    booked = db_session.execute(
        select(Activity, Prospect).join(Prospect, Prospect.id == Activity.prospect_id)
        .where(Activity.type == ActivityType.meeting_scheduled,
               Activity.metadata_["provider"].astext == integration.provider,
               Activity.metadata_["eventId"].astext == event_id)).all()
    canceled = 0
    for activity, prospect in booked:
        if prospect.email in attending:
            continue
        key = f"{integration.provider}:{activity.metadata_.get('booking')}:canceled"
        if _done(db_session, key):
            continue
        _write(db_session, integration, prospect, key=key, booking=str(activity.metadata_.get("booking")),
               title=title or activity.metadata_.get("title"), start=activity.metadata_.get("startTime"),
               canceled=True, now=now, event_id=event_id)
        canceled += 1
    return canceled


def _write(db_session: Session, integration: TeamIntegration, prospect: Prospect, *, key: str, booking: str,
           title: str | None, start: str | None, canceled: bool, now: datetime, event_id: str | None) -> None:
    label, source = title or "a meeting", _label(integration)
    metadata = {"bookingKey": key, "provider": integration.provider, "startTime": start, "booking": booking,
                "title": title}
    if event_id is not None:
        metadata["eventId"] = event_id
    activities.record(
        db_session=db_session, organization_id=integration.organization_id,
        type=ActivityType.note_added if canceled else ActivityType.meeting_scheduled,
        user_id=integration.installed_by, prospect_id=prospect.id, account_id=prospect.account_id,
        subject=f"Canceled in {source}: {label}" if canceled else f"Booked in {source}: {label}",
        metadata=metadata, occurred_at=now)
