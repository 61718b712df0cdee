"""A prospect's timeline and insights: engagement counts, rule-based factors, stored model factors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serving.activities.models import Activity
from serving.prospects.models import Prospect
from tests.factories import unique_email

URL = "/api/v1/prospects"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

INSIGHT_KEYS = {"prospectId", "priorityScore", "intentScore", "intentTier", "qualificationScore",
                "relationshipStage", "engagement", "lastActivityAt", "topFactors", "aiInsights",
                "modelVersion", "scoreHistory", "score", "tier", "mlScore", "scoreBaseline", "otherFactorsImpact"}


def log(tenant, prospect, kind: str, at: datetime, **extra):
    return tenant.add(Activity, prospect_id=prospect.id, type=kind, occurred_at=at, **extra)


def test_insights_shape_for_a_prospect_without_activity(client, tenant):
    created = client.post(URL, json={"email": unique_email()}, headers=tenant.user.headers).json()
    response = client.get(f"{URL}/{created['id']}/insights", headers=tenant.viewer.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == INSIGHT_KEYS
    assert body["prospectId"] == created["id"]
    assert body["engagement"] == {} and body["topFactors"] == [] and body["lastActivityAt"] is None
    assert body["modelVersion"] is None and body["scoreHistory"] == []
    assert body["relationshipStage"] == "new"


def test_rule_based_factors_come_from_the_timeline(client, tenant):
    prospect = tenant.add(Prospect, email=unique_email(), intent_tier="hot", intent_score=72,
                          priority_score=64)
    for day in range(3):
        log(tenant, prospect, "email_sent", T0 + timedelta(days=day))
    for day in range(2):
        log(tenant, prospect, "email_opened", T0 + timedelta(days=day, hours=1))
    log(tenant, prospect, "meeting_scheduled", T0 + timedelta(days=5))
    body = client.get(f"{URL}/{prospect.id}/insights", headers=tenant.user.headers).json()
    assert body["engagement"] == {"email_sent": 3, "email_opened": 2, "meeting_scheduled": 1}
    assert datetime.fromisoformat(body["lastActivityAt"]) == T0 + timedelta(days=5)
    assert (body["intentTier"], body["intentScore"], body["priorityScore"]) == ("hot", 72, 64)
    assert body["topFactors"] == [
        {"factor": "Meetings scheduled: 1", "impact": 15},
        {"factor": "Intent tier hot", "impact": 12},
        {"factor": "No reply to 3 emails", "impact": -6},
        {"factor": "Opened emails: 2", "impact": 4},
    ]


def test_stored_model_factors_take_precedence(client, tenant):
    insights = {"modelVersion": "lead_scoring@3", "topFactors": [{"factor": "Visited pricing", "impact": 22}]}
    prospect = tenant.add(Prospect, email=unique_email(), ai_insights=insights, intent_tier="burning")
    body = client.get(f"{URL}/{prospect.id}/insights", headers=tenant.user.headers).json()
    assert body["modelVersion"] == "lead_scoring@3"
    assert body["topFactors"] == [{"factor": "Visited pricing", "impact": 22}]
    assert body["aiInsights"] == insights


def test_timeline_is_newest_first_and_paginated(client, tenant):
    prospect = tenant.add(Prospect, email=unique_email())
    other = tenant.add(Prospect, email=unique_email())
    kinds = ["email_sent", "email_opened", "call_made", "note_added"]
    for i, kind in enumerate(kinds):
        log(tenant, prospect, kind, T0 + timedelta(hours=i), subject=f"#{i}")
    log(tenant, other, "email_sent", T0 + timedelta(days=9))
    first = client.get(f"{URL}/{prospect.id}/activities", params={"limit": 3},
                       headers=tenant.user.headers).json()
    second = client.get(f"{URL}/{prospect.id}/activities", params={"limit": 3, "page": 2},
                        headers=tenant.user.headers).json()
    assert first["pagination"] == {"page": 1, "limit": 3, "total": 4, "pages": 2}
    assert [a["type"] for a in first["data"] + second["data"]] == kinds[::-1]
    assert all(a["prospectId"] == str(prospect.id) for a in first["data"] + second["data"])
    assert first["data"][0]["subject"] == "#3"
