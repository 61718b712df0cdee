"""The weekly summary: sent on Monday from 08:00 in each user's own time zone, once, with their week's numbers;
not to someone who turned it off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serving.activities.models import Activity
from serving.core.db import session_factory
from serving.deals.models import Deal
from serving.team import digest
from tests.serving.team.mail import mails_to

API = "/api/v1"
# Monday 7 December 2026, 09:00 in Tokyo = 00:00 UTC
MONDAY_TOKYO_9 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


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
