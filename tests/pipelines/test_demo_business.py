"""The demo looks like a living business: seeded as `revorc seed-demo` does and run through the whole pipeline,
every intent tier is populated, a few accounts spike, and the nightly model finds the planted conversion signal
(validation ROC-AUC >= 0.75, lift falling by decile)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest
from scipy.stats import spearmanr
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
def demo(pg, tmp_path_factory, typesense_server):
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
        yield conn, str(org)
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


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
