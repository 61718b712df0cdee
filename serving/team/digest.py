"""The weekly summary e-mail (`weeklyDigest` in a user's preferences): on Monday from 08:00 in the user's own time
zone, their last seven days in numbers — e-mails sent and replies, calls, meetings booked, tasks done, deals won —
sent once per week (`user_preferences.weekly_digest_sent_for`), through the system mail."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.emails import system_mail
from serving.team.models import UserPreference
from serving.users.models import User

SEND_HOUR = 8

# The user's own week, from the tables of the domains that keep them (read only).
_NUMBERS = text("""
select
  (select count(*) from app.activities where user_id = :user and type = 'email_sent'
     and occurred_at >= :since and occurred_at < :until) as emails_sent,
  (select count(*) from app.activities a join app.prospects p on p.id = a.prospect_id
     where p.owner_id = :user and a.type = 'email_received' and a.occurred_at >= :since
       and a.occurred_at < :until) as replies,
  (select count(*) from app.activities where user_id = :user and type in ('call_made', 'call_received')
     and occurred_at >= :since and occurred_at < :until) as calls,
  (select count(*) from app.activities where user_id = :user and type = 'meeting_scheduled'
     and occurred_at >= :since and occurred_at < :until) as meetings,
  (select count(*) from app.activities where user_id = :user and type = 'task_completed'
     and occurred_at >= :since and occurred_at < :until) as tasks_done,
  (select count(*) from app.deals where owner_id = :user and stage = 'closed_won'
     and closed_at >= :since and closed_at < :until) as deals_won,
  (select coalesce(sum(amount), 0) from app.deals where owner_id = :user and stage = 'closed_won'
     and closed_at >= :since and closed_at < :until) as won_amount
""")


def week_start(now: datetime, zone: ZoneInfo) -> datetime | None:
    """This week's Monday 08:00 local (as an aware datetime) once it has passed, else None."""
    local = now.astimezone(zone)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(SEND_HOUR), zone)
    return monday if local >= monday else None


def numbers(db_session: Session, *, user_id: uuid.UUID, since: datetime, until: datetime) -> dict:
    return dict(db_session.execute(_NUMBERS, {"user": user_id, "since": since, "until": until}).mappings().one())


def body_of(name: str, figures: dict, since: datetime, until: datetime) -> str:
    won = f"{figures['deals_won']} (${float(figures['won_amount']):,.0f})"
    lines = [f"Hi {name},", "", f"Your week, {since:%d %b} – {(until - timedelta(days=1)):%d %b}:", "",
             f"  E-mails sent      {figures['emails_sent']}", f"  Replies           {figures['replies']}",
             f"  Calls             {figures['calls']}", f"  Meetings booked   {figures['meetings']}",
             f"  Tasks done        {figures['tasks_done']}", f"  Deals won         {won}", "",
             "Turn this summary off in My settings → Preferences."]
    return "\n".join(lines)


def send_due(*, factory: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Send every summary due at `now` (the hourly sweep); returns how many went out."""
    with factory() as session, session.begin():
        recipients = session.execute(text("select * from app.weekly_digest_recipients()")).all()
    sent = 0
    for organization_id, user_id, timezone, sent_for in recipients:
        try:
            zone = ZoneInfo(timezone)
        except (KeyError, ValueError):
            zone = ZoneInfo("UTC")
        start = week_start(now, zone)
        if start is None or (sent_for is not None and sent_for >= start):
            continue
        with factory() as session, session.begin():
            set_tenant(session, organization_id)
            user = session.get(User, user_id)
            since, until = start - timedelta(days=7), start
            # marked first, in the same transaction: a failed send rolls the mark back and the next sweep retries
            session.execute(insert(UserPreference).values(user_id=user_id, organization_id=organization_id,
                                                          weekly_digest_sent_for=start)
                            .on_conflict_do_update(index_elements=["user_id"],
                                                   set_={"weekly_digest_sent_for": start}))
            if user.created_at >= until:
                continue  # joined after that week: no summary of a week they were not there (the mark stays)
            figures = numbers(session, user_id=user_id, since=since, until=until)
            system_mail.send(settings, organization_id=organization_id, to=user.email, category="weekly-digest",
                             subject=f"Your week: {figures['meetings']} meetings, {figures['deals_won']} deals won",
                             body=body_of(user.full_name or user.email, figures, since, until), now=now)
        sent += 1
    return sent
