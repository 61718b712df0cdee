"""The demo looks like a living business: seeded as `revorc seed-demo` does and run through the whole pipeline,
every intent tier is populated, a few accounts spike, and the nightly model finds the planted conversion signal
(validation ROC-AUC >= 0.75, lift falling by decile)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest
from scipy.stats import spearmanr
from sqlalchemy import text
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from pipelines.definitions import ASSETS, resources
from pipelines.demo_data import demo_landing
from pipelines.ingest.ledger import psycopg_conninfo
from revorc.demo import seed_demo
from serving.core.db import engine_for
from tests.conftest import make_settings

PROSPECTS = 500  # the size `revorc up` seeds
TIERS = {"low", "warm", "hot", "burning"}


@pytest.fixture(scope="module")
def demo_env(pg, tmp_path_factory, typesense_server):
    database = pg.url(pg.clone())
    state = tmp_path_factory.mktemp("demo-business")
    settings = make_settings(database, state)
    as_of = datetime.now(UTC).date()
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        org = seed_demo(session, seed=42, prospects=PROSPECTS).organization_id
    landing = state / "landing"
    demo_landing(settings, prospects=PROSPECTS, seed=42, landing_url=str(landing))
    run_config = {"ops": {"revorc_dbt_models": {"config": {"as_of": as_of.isoformat()}},
                          "ml__lead_scoring_model": {"config": {"seed": 0}}}}
    with threadpool_limits(limits=1, user_api="openmp"):
        # the whole graph, the search reindex into a real Typesense included
        res = resources(database_url=database, landing_url=str(landing), revorc_home=str(state),
                        typesense=(*typesense_server, f"demo_{pg.worker}"))
        result = dg.materialize(ASSETS, resources=res,
                                run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    with psycopg.connect(psycopg_conninfo(database)) as conn:
        yield conn, str(org), settings
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


@pytest.fixture(scope="module")
def demo(demo_env):
    conn, org, _ = demo_env
    return conn, org


def _tiers(conn, table: str, org: str) -> dict[str, int]:
    return dict(conn.execute(f"select intent_tier, count(*) from analytics.{table} where organization_id = %s"
                             " group by 1", (org,)).fetchall())


def test_every_intent_tier_is_populated(demo):
    conn, org = demo
    prospects, accounts = _tiers(conn, "fct_prospect_intent", org), _tiers(conn, "fct_account_intent", org)
    print("demo intent tiers: prospects", prospects, "accounts", accounts)
    assert set(prospects) == TIERS, prospects
    # most of a real population is cold; the hotter the tier, the fewer prospects in it
    assert prospects["low"] > prospects["warm"] > prospects["hot"] > prospects["burning"] > 0, prospects
    assert set(accounts) - {"low"}, accounts


def test_a_few_accounts_surge(demo):
    conn, org = demo
    spiking, total, increasing = conn.execute(
        "select count(*) filter (where is_spike), count(*), count(*) filter (where intent_trend = 'increasing')"
        " from analytics.fct_account_intent where organization_id = %s", (org,)).fetchone()
    print(f"demo accounts: {spiking} spiking, {increasing} increasing of {total}")
    assert 1 <= spiking <= total // 5, (spiking, total)
    assert increasing >= spiking
    assert conn.execute("select count(*) from analytics.fct_prospect_intent where organization_id = %s"
                        " and is_spike", (org,)).fetchone()[0] >= 1


def test_nightly_champion_finds_the_planted_signal(demo):
    conn, org = demo
    row = conn.execute("select is_champion, (metrics ->> 'roc_auc')::float, model_card -> 'metrics' -> 'deciles'"
                       " from app.ml_models where organization_id = %s order by version_number desc limit 1",
                       (org,)).fetchone()
    assert row is not None, "the nightly training registered no model on the demo history"
    champion, roc_auc, deciles = row
    print(f"demo champion: ROC-AUC {roc_auc:.3f}, lift by decile", [round(d["lift"], 2) for d in deciles])
    assert champion and roc_auc >= 0.75, roc_auc
    lift = [d["lift"] for d in sorted(deciles, key=lambda d: d["decile"])]
    # falling by decile up to noise (a decile of the holdout holds about a dozen conversions): the top decile
    # converts best, the cumulative lift (top k deciles together) never rises, the top, middle and bottom thirds
    # fall in order, and the rank correlation of lift with decile is strongly negative
    assert lift[0] >= 2 and lift[0] == max(lift), lift
    cumulative = [sum(lift[:k]) / k for k in range(1, 11)]
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(cumulative)), cumulative
    assert sum(lift[:3]) / 3 > sum(lift[3:6]) / 3 > sum(lift[6:]) / 4, lift
    assert spearmanr(range(10), lift).statistic <= -0.75, lift


def test_the_bdr_agent_picks_the_demos_high_intent_prospects_with_no_ai_keys(demo_env):
    """The agent as the hourly schedule runs it on the demo (configured by `seed_demo`, reviewing everything):
    it picks the prospects the pipeline found hot or burning, researches them, and queues checked drafts written
    with one of the demo's messaging variants for a human's review — with no AI key."""
    from serving.bdr import agent
    from serving.core.db import session_factory, tenant_session

    conn, org, settings = demo_env
    with tenant_session(session_factory(settings.api_database_url), org) as session:
        config = agent.get_config(db_session=session, organization_id=uuid.UUID(org))
        assert config is not None and config.enabled and config.approval_mode == "all"
        # a Monday at noon in New York, nine in Los Angeles: inside every demo prospect's working hours
        monday = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
        _, found, results = agent.run(db_session=session, settings=settings, config=config, now=monday)
        picked = {p: t for p, t in session.execute(text(
            "select id, intent_tier from app.prospects where id = any(:ids)"), {"ids": found.picked}).all()}
        outcomes = [r.outcome for r in results]
        variants = session.execute(text("select detail->>'variantId' from app.bdr_activities "
                                        "where kind = 'email_queued'")).scalars().all()
        passed = session.execute(text("select bool_and(check_passed) from app.ai_email_drafts")).scalar()
    hot = conn.execute("select count(*) from app.prospects where organization_id = %s and intent_tier in "
                       "('hot', 'burning')", (org,)).fetchone()[0]
    print(f"demo BDR run: {len(picked)} picked of {hot} hot or burning, outcomes {outcomes}")
    assert picked and set(picked.values()) <= {"hot", "burning"}
    assert outcomes and set(outcomes) <= {"queued", "held", "dropped"} and "queued" in outcomes
    assert passed and variants and all(variants)
