"""One deal-risk rule: the API's live risk equals what the pipeline computes and writes back, at every edge.

Deals sit one day on either side of each limit (days in each stage, days without engagement, close date,
contacts, next step), with timestamps late in the UTC day so that 24-hour periods and calendar days differ.
The API is asked first, the whole pipeline (ingest, dbt build, reverse-ETL) runs, then the mart and the API
are compared with the first answers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from pipelines.definitions import ASSETS, resources
from pipelines.ingest.ledger import psycopg_conninfo
from serving.deals.health import INACTIVITY_DAYS, MIN_CONTACTS, STAGE_THRESHOLD_DAYS
from serving.main import create_app
from tests.conftest import make_settings
from tests.factories import make_tenant

pytestmark = pytest.mark.slow


def _late_on(day_offset: int, today) -> datetime:
    """23:30 UTC `day_offset` days before today: N calendar days ago, but only N-1 full 24-hour periods."""
    return datetime.combine(today - timedelta(days=day_offset), time(23, 30), UTC)


def _edge_deals(today) -> list[dict]:
    healthy = {"stage": "proposal", "in_stage": 2, "created": 3, "activity": 1, "contact_activity": None,
               "status_change_only": False, "close": 30, "contacts": MIN_CONTACTS, "next_step": "Send the order form"}
    deals = [healthy]
    for stage, limit in STAGE_THRESHOLD_DAYS.items():
        for days in (limit, limit + 1):
            deals.append({**healthy, "stage": stage.value, "in_stage": days, "created": days + 5})
    # the stage age falls back to creation when the stage change time is unknown
    deals.append({**healthy, "stage": "negotiation", "in_stage": None, "created": 15})
    deals.append({**healthy, "stage": "negotiation", "in_stage": None, "created": 14})
    for days in (INACTIVITY_DAYS, INACTIVITY_DAYS + 1):
        deals.append({**healthy, "activity": days, "created": days + 5, "in_stage": 1})
        deals.append({**healthy, "activity": None, "created": days, "in_stage": 1})  # measured from creation
        deals.append({**healthy, "activity": None, "contact_activity": days, "created": days + 5, "in_stage": 1})
    # a stage change is bookkeeping, not engagement
    deals.append({**healthy, "activity": None, "status_change_only": True, "created": 20, "in_stage": 1})
    deals.append({**healthy, "activity": 0})  # earlier today
    for close in (0, -1, None):
        deals.append({**healthy, "close": close})
    for contacts in (0, 1, 2):
        deals.append({**healthy, "contacts": contacts})
    for next_step in (None, "", "   "):
        deals.append({**healthy, "next_step": next_step})
    # everything at once: capped at 100
    deals.append({"stage": "negotiation", "in_stage": 40, "created": 60, "activity": 30, "contact_activity": None,
                  "status_change_only": False, "close": -10, "contacts": 0, "next_step": None})
    return deals


def _insert(conn, tenant, spec: dict, today) -> uuid.UUID:
    org, team, owner = tenant.organization_id, tenant.team_id, tenant.user.id
    deal_id = uuid.uuid4()
    created = _late_on(spec["created"], today)
    stage_changed = _late_on(spec["in_stage"], today) if spec["in_stage"] is not None else None
    close = today + timedelta(days=spec["close"]) if spec["close"] is not None else None
    metadata = {"nextStep": spec["next_step"]} if spec["next_step"] is not None else {}
    conn.execute("insert into app.deals (id, organization_id, team_id, owner_id, name, amount, probability,"
                 " forecast_category, stage, close_date, created_at, stage_changed_at, metadata)"
                 " values (%s,%s,%s,%s,'Edge',1000,50,'best_case',%s,%s,%s,%s,%s)",
                 (deal_id, org, team, owner, spec["stage"], close, created, stage_changed, Jsonb(metadata)))
    prospects = []
    for _ in range(spec["contacts"]):
        prospect = uuid.uuid4()
        conn.execute("insert into app.prospects (id, organization_id, owner_id, email) values (%s,%s,%s,%s)",
                     (prospect, org, owner, f"{prospect.hex[:10]}@edge.test"))
        conn.execute("insert into app.deal_contacts (id, organization_id, deal_id, prospect_id)"
                     " values (gen_random_uuid(), %s, %s, %s)", (org, deal_id, prospect))
        prospects.append(prospect)

    def activity(kind: str, days: int, *, on_deal: bool, metadata: dict | None = None) -> None:
        when = _late_on(days, today) if days else datetime.combine(today, time(0, 0, 1), UTC)
        conn.execute("insert into app.activities (id, organization_id, deal_id, prospect_id, type, subject,"
                     " metadata, occurred_at) values (gen_random_uuid(), %s, %s, %s, %s, 'x', %s, %s)",
                     (org, deal_id if on_deal else None, None if on_deal else prospects[0], kind,
                      Jsonb(metadata or {}), when))

    if spec["activity"] is not None:
        activity("call_made", spec["activity"], on_deal=True)
    if spec["contact_activity"] is not None:
        activity("email_received", spec["contact_activity"], on_deal=False)
    if spec["status_change_only"]:
        activity("status_change", 1, on_deal=True, metadata={"field": "probability", "from": 10, "to": 20})
    return deal_id


def _api_risk(client, tenant, deal_ids) -> dict[uuid.UUID, tuple]:
    answers = {}
    for deal_id in deal_ids:
        response = client.get(f"/api/v1/deals/{deal_id}/health", headers=tenant.admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        answers[deal_id] = (body["riskScore"], [r["code"] for r in body["reasons"]])
    return answers


def test_api_and_pipeline_compute_the_same_deal_risk(pg, tmp_path):
    database = pg.url(pg.clone())
    settings = make_settings(database, tmp_path)
    tenant = make_tenant(settings)
    today = datetime.now(UTC).date()
    specs = _edge_deals(today)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        deal_ids = [_insert(conn, tenant, spec, today) for spec in specs]

    with TestClient(create_app(settings)) as client:
        before = _api_risk(client, tenant, deal_ids)
        selection = (dg.AssetSelection.groups("ingest") | dg.AssetSelection.groups("dbt")
                     | dg.AssetSelection.groups("reverse_etl"))
        result = dg.materialize(ASSETS, selection=selection,
                                resources=resources(database_url=database, landing_url=str(tmp_path / "landing")),
                                run_config={"ops": {"revorc_dbt_models": {"config": {"as_of": today.isoformat()}}}},
                                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
        after = _api_risk(client, tenant, deal_ids)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test; rerun")

    with psycopg.connect(psycopg_conninfo(database)) as conn:
        rows = conn.execute("select h.deal_id, h.risk_score, h.risk_reasons, d.risk_score, d.ai_analysis -> 'risk'"
                            " -> 'reasons' from analytics.fct_deal_health as h inner join app.deals as d"
                            " on d.id = h.deal_id where h.organization_id = %s", (tenant.organization_id,)).fetchall()
    mart = {row[0]: (row[1], list(row[2])) for row in rows}
    written = {row[0]: (row[3], row[4]) for row in rows}
    mismatches = {str(d): (specs[i], before[d], mart.get(d))
                  for i, d in enumerate(deal_ids) if before[d] != mart.get(d)}
    assert not mismatches
    assert written == mart  # the write-back stored exactly the mart's numbers
    assert after == before  # and the API shows the same risk after the pipeline ran
    # the edges really are edges: the set spans no risk to the cap, and each reason fires somewhere
    assert {score for score, _ in before.values()} >= {0, 100}
    assert {code for _, codes in before.values() for code in codes} == {
        "stalled_in_stage", "no_recent_activity", "close_date_passed", "single_threaded", "no_next_step"}
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])
