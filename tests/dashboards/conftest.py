"""A seeded, materialized database with the live API for the dashboard tests (built once per test session).

Two organizations: the demo organization (demo CRM records, generated landing files, the Maven CRM export and an
A/B e-mail batch) and a second tenant with one deal of its own, to check that neither sees the other's figures.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy.orm import Session

from pipelines.definitions import ASSETS, resources
from pipelines.defs.ingest.checks import ingest_checks
from pipelines.defs.ml.assets import SCORES
from pipelines.demo_data import demo_landing
from pipelines.ingest.ledger import psycopg_conninfo
from revorc.data_runtime import dagster_home
from revorc.demo import DEMO_USERS, seed_demo
from serving.core.config import READONLY_ROLE, get_settings
from serving.core.db import engine_for
from serving.core.permissions import Role
from serving.main import create_app
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.pg import as_role

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_A = uuid.UUID("a0000000-0000-4000-8000-00000000000a")
TEMPLATE_B = uuid.UUID("b0000000-0000-4000-8000-00000000000b")
CADENCE = uuid.UUID("c0000000-0000-4000-8000-00000000000c")
OTHER_DEAL_NAME = "Zebra Secret Expansion"
OTHER_DEAL_AMOUNT = 123_457
REQUIRED_MARTS = ("fct_deal_health", "dim_account_health", "fct_forecast", "fct_forecast_accuracy",
                  "agg_activity_daily", "agg_pipeline_metrics", "agg_email_engagement_daily", "fct_email_events",
                  "fct_prospect_intent", "fct_account_intent", "intent_score_history", "fct_deal_stage_durations",
                  "agg_search_daily", "agg_search_queries", "agg_search_click_positions", "fct_search_refinements",
                  "dim_search_popular_queries")


def _one(database: str, sql: str, *params):
    with psycopg.connect(psycopg_conninfo(database)) as conn:
        return conn.execute(sql, params).fetchone()


@dataclass
class Seeded:
    database: str
    settings: object
    api_url: str
    demo_org: str
    other: Tenant
    as_of: date

    def one(self, sql: str, *params):
        """A value through the owner connection (bypasses row-level security: the expected figures)."""
        with psycopg.connect(psycopg_conninfo(self.database)) as conn:
            return conn.execute(sql, params).fetchone()

    def all(self, sql: str, *params):
        with psycopg.connect(psycopg_conninfo(self.database)) as conn:
            return conn.execute(sql, params).fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ab_batch(as_of: date) -> str:
    """Template A: 60 delivered, 30 opened; template B: 60 delivered, 12 opened (significant); all in CADENCE."""
    events = []
    start = int(datetime.combine(as_of - timedelta(days=2), dtime(14), UTC).timestamp())
    for template, opens in ((TEMPLATE_A, 30), (TEMPLATE_B, 12)):
        for n in range(60):
            message = f"ab-{template.int}-{n}"
            kinds = ["processed", "delivered"] + (["open"] if n < opens else [])
            for k, kind in enumerate(kinds):
                events.append({"email": f"ab{n}@nowhere.test", "timestamp": start + n * 60 + k, "event": kind,
                               "sg_event_id": f"{message}:{kind}", "sg_message_id": message,
                               "template_id": str(template), "cadence_id": str(CADENCE)})
    return json.dumps(events)


# (user: 0 = the first demo user by e-mail, 1 = the second, None = an API key; query; results; latency ms; age;
#  clicked positions): what the search page must show, computed again by its test from app tables and marts
SEARCHES = [
    (0, "acme", 5, 12, timedelta(hours=2), [1, 3]),
    (0, "acme corp", 2, 20, timedelta(hours=2) - timedelta(minutes=1), [1]),
    (None, "acme", 5, 15, timedelta(hours=3), []),
    (1, "zzz nothing", 0, 8, timedelta(days=1), []),
    (1, "zzz nothing", 0, 9, timedelta(days=1) - timedelta(minutes=10), []),
    (1, "globex", 4, 40, timedelta(days=40), [2]),
]


def seed_searches(database: str, organization_id) -> None:
    """Logged searches, clicks and popular queries of the demo organization (none for the other tenant)."""
    now = datetime.now(UTC)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        users = [r[0] for r in conn.execute("select id from app.users where organization_id = %s order by email"
                                            " limit 2", (organization_id,)).fetchall()]
        for who, query, results, latency, age, clicks in SEARCHES:
            search_id = uuid.uuid4()
            user_id = users[who] if who is not None else None
            conn.execute("insert into app.search_analytics (id, organization_id, user_id, query, normalized_query,"
                         " types, result_count, latency_ms, created_at) values (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (search_id, organization_id, user_id, query.upper(), query, ["prospects"], results, latency,
                          now - age))
            for position in clicks:
                conn.execute("insert into app.search_clicks (id, organization_id, search_id, user_id, entity,"
                             " record_id, position, created_at) values (%s,%s,%s,%s,'prospects',%s,%s,%s)",
                             (uuid.uuid4(), organization_id, search_id, user_id, uuid.uuid4(), position,
                              now - age + timedelta(seconds=5)))
        conn.execute("insert into app.search_popular_queries (organization_id, normalized_query, search_count,"
                     " result_count, last_searched_at) select organization_id, normalized_query, count(*),"
                     " max(result_count), max(created_at) from app.search_analytics where organization_id = %s"
                     " group by 1, 2", (organization_id,))


def _serve(app, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    return server


def _ensure_champion(database: str, api_url: str, org: str, landing: Path, instance: dg.DagsterInstance) -> None:
    """The pipeline trains a model on the demo history; whether it clears the ROC-AUC floor depends on the day's
    snapshot dates, so when it did not, an admin promotes it through the API (the manual path the product offers)
    and the scoring asset runs again: the lead-scoring page is always tested with a champion."""
    latest = _one(database, "select version, is_champion from app.ml_models where organization_id = %s"
                            " order by version_number desc limit 1", org)
    assert latest, "the ml assets trained no model on the demo organization"
    if latest[1]:
        return
    email, password, _ = DEMO_USERS[Role.admin]
    token = httpx.post(f"{api_url}/api/v1/auth/login", json={"email": email, "password": password}).json()
    promoted = httpx.post(f"{api_url}/api/v1/scoring/models/{latest[0]}/promote",
                          headers={"Authorization": f"Bearer {token['accessToken']}"},
                          json={"reason": "dashboard tests"})
    assert promoted.status_code == 200, promoted.text
    result = dg.materialize(ASSETS, selection=[SCORES], resources=resources(database_url=database,
                            landing_url=str(landing)), instance=instance)
    assert result.success


@pytest.fixture(scope="session")
def seeded(pg, tmp_path_factory) -> Iterator[Seeded]:
    database = pg.url(pg.clone())
    state = tmp_path_factory.mktemp("dashboards")
    settings = make_settings(database, state)
    as_of = datetime.now(UTC).date()
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        demo = seed_demo(session, seed=7, prospects=120)
    other = make_tenant(settings, name="Zebra Org")
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("insert into app.deals (id, organization_id, team_id, owner_id, name, amount, probability, stage,"
                     " forecast_category, close_date) values (%s,%s,%s,%s,%s,%s,50,'proposal','best_case',%s)",
                     (uuid.uuid4(), other.organization_id, other.team_id, other.user.id, OTHER_DEAL_NAME,
                      OTHER_DEAL_AMOUNT, as_of))
    seed_searches(database, demo.organization_id)
    landing = state / "landing"
    demo_landing(settings, prospects=120, seed=7, landing_url=str(landing))
    ab = landing / "email_events/acme-demo/ab/batch.json"
    ab.parent.mkdir(parents=True, exist_ok=True)
    ab.write_text(ab_batch(as_of))
    bad = landing / "intent_signals/acme-demo/bad/feed.csv"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("signal_type,account_domain,prospect_email,topic,strength,occurred_at,expires_at,provider\n"
                   f"funding,acme.test,,x,abc,{as_of.isoformat()}T00:00:00Z,,bombora\n")

    run_config = {"ops": {"revorc_dbt_models": {"config": {"as_of": as_of.isoformat()}}}}
    instance = dg.DagsterInstance.from_config(str(dagster_home(settings)))
    result = dg.materialize([*ASSETS, *ingest_checks], resources=resources(database_url=database,
                            landing_url=str(landing)), run_config=run_config, instance=instance,
                            raise_on_error=False)
    # The pages need these marts; a failure elsewhere in the graph (e.g. a model another change is editing) is
    # reported by the pipeline tests, not here.
    missing = [m for m in REQUIRED_MARTS if _one(database, "select to_regclass(%s)", f"analytics.{m}")[0] is None]
    assert not missing, (missing, [e.message for e in result.all_events if e.is_failure][:3])

    port = free_port()
    server = _serve(create_app(settings), port)
    api_url = f"http://127.0.0.1:{port}"
    _ensure_champion(database, api_url, str(demo.organization_id), landing, instance)
    env = {"DATABASE_URL": database, "READONLY_DATABASE_URL": as_role(database, READONLY_ROLE),
           "REVORC_API_URL": api_url, "REVORC_HOME": str(state), "JWT_SECRET": TEST_JWT_SECRET, "REVORC_ENV": "test",
           "DAGSTER_HOME": str(dagster_home(settings)), "RATE_LIMIT_AUTH": "10000/minute"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        yield Seeded(database, settings, api_url, str(demo.organization_id), other, as_of)
        server.should_exit = True
    get_settings.cache_clear()
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


DEMO_LOGIN = {role: (email, password) for role, (email, password, _) in DEMO_USERS.items()}
ADMIN_LOGIN = DEMO_LOGIN[Role.admin]
REP_LOGIN = DEMO_LOGIN[Role.user]
VIEWER_LOGIN = DEMO_LOGIN[Role.viewer]


def other_login(seeded: Seeded) -> tuple[str, str]:
    return seeded.other.admin.email, PASSWORD


__all__ = ["ADMIN_LOGIN", "REP_LOGIN", "ROOT", "VIEWER_LOGIN", "Seeded", "free_port", "os", "other_login"]
