"""The weekly summary: sent on Monday from 08:00 in each user's own time zone, once, with their week's numbers;
not to someone who turned it off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from serving.activities.models import Activity
from serving.core.db import session_factory
from serving.deals.models import Deal
from serving.team import digest
from tests.serving.team.mail import mails_to

API = "/api/v1"
# the next Monday 09:00 in Tokyo (00:00 UTC): after the users the tests make now, so their first week counts
_today = datetime.now(UTC).date()
MONDAY_TOKYO_9 = datetime.combine(_today + timedelta(days=7 - _today.weekday()), datetime.min.time(), UTC)


def test_the_weekly_summary_goes_out_once_in_the_users_own_monday_morning(client, tenant, settings):
    client.put(f"{API}/me/preferences", json={"timezone": "Asia/Tokyo"}, headers=tenant.user.headers)
    client.put(f"{API}/me/preferences", json={"weeklyDigest": False}, headers=tenant.viewer.headers)
    last_week = MONDAY_TOKYO_9 - timedelta(days=3)
    for kind in ("email_sent", "email_sent", "call_made", "meeting_scheduled"):
        tenant.add(Activity, user_id=tenant.user.id, type=kind, occurred_at=last_week)
    tenant.add(Activity, user_id=tenant.user.id, type="email_sent", occurred_at=MONDAY_TOKYO_9 - timedelta(days=9))
    tenant.add(Deal, name="Won it", amount=12000, stage="closed_won", owner_id=tenant.user.id, closed_at=last_week)
    factory = session_factory(settings.api_database_url)

    # 07:00 in Tokyo: not yet
    digest.send_due(factory=factory, settings=settings, now=MONDAY_TOKYO_9 - timedelta(hours=2))
    assert mails_to(settings, tenant.organization_id, tenant.user.email) == []
    digest.send_due(factory=factory, settings=settings, now=MONDAY_TOKYO_9)
    [mail] = mails_to(settings, tenant.organization_id, tenant.user.email)
    assert mail["Subject"] == "Your week: 1 meetings, 1 deals won"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "E-mails sent      2" in text and "Calls             1" in text and "$12,000" in text
    digest.send_due(factory=factory, settings=settings, now=MONDAY_TOKYO_9 + timedelta(hours=1))
    assert len(mails_to(settings, tenant.organization_id, tenant.user.email)) == 1  # once a week
    assert mails_to(settings, tenant.organization_id, tenant.viewer.email) == []  # turned off


def test_no_summary_of_a_week_before_the_user_joined(client, tenant, settings):
    """A member who joined after last week ended gets nothing for it (a worker started on a Saturday used to mail
    every new user last week's zeros), and next Monday's summary as usual."""
    factory = session_factory(settings.api_database_url)
    now = datetime.now(UTC)
    digest.send_due(factory=factory, settings=settings, now=now)
    assert mails_to(settings, tenant.organization_id, tenant.user.email) == []
    next_monday = digest.week_start(now + timedelta(days=7), ZoneInfo("UTC"))
    digest.send_due(factory=factory, settings=settings, now=next_monday)
    assert len(mails_to(settings, tenant.organization_id, tenant.user.email)) == 1
