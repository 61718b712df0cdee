"""The marts the dashboards read as live views: current without a dbt run, and inside the reader's tenant."""

from __future__ import annotations

import psycopg

from dashboards.data.data_health import MARTS
from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.config import READONLY_ROLE
from tests.dashboards.conftest import OTHER_DEAL_NAME
from tests.pg import as_role

LIVE = {"dim_teams", "dim_users", "dim_accounts", "dim_prospects", "dim_deals", "fct_activities",
        "fct_intent_signals", "dim_email_templates", "dim_cadences", "dim_ml_models", "fct_lead_score_history",
        "fct_ai_predictions", "fct_landing_files", "fct_rejected_records"}


def _read_as(seeded, org: str, sql: str, *params):
    """One query as the dashboards' read-only role, bound to `org` the way `read_frame` binds it."""
    with psycopg.connect(psycopg_conninfo(as_role(seeded.database, READONLY_ROLE))) as conn, conn.transaction():
        conn.execute("select set_config('app.organization_id', %s, true)", (str(org),))
        return conn.execute(sql, params).fetchall()


def test_the_live_marts_are_security_invoker_views_counted_by_data_health(seeded):
    views = {name for name, options in seeded.all(
        "select c.relname, c.reloptions from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = 'analytics' and c.relkind = 'v'") if "security_invoker=on" in (options or [])}
    assert views >= LIVE
    assert set(MARTS) >= LIVE


def test_a_reader_sees_only_its_own_organization_in_every_live_mart(seeded):
    other = str(seeded.other.organization_id)
    for mart in sorted(LIVE):
        # no `where organization_id = …`: row-level security of the tables under the view decides alone
        owners = {row[0] for row in _read_as(seeded, other, f"select distinct organization_id from analytics.{mart}")}
        assert owners <= {seeded.other.organization_id}, mart
        demo = _read_as(seeded, seeded.demo_org, f"select count(*) from analytics.{mart}")[0][0]
        expected = seeded.one(f"select count(*) from analytics.{mart} where organization_id = %s", seeded.demo_org)[0]
        assert demo == expected, mart
    assert _read_as(seeded, other, "select deal_name from analytics.dim_deals") == [(OTHER_DEAL_NAME,)]


def test_a_deal_changed_in_the_app_shows_in_dim_deals_without_a_dbt_run(seeded):
    deal_id, name = seeded.one("select id, name from app.deals where organization_id = %s order by id limit 1",
                               seeded.demo_org)
    renamed = f"{name} (renamed)"
    with psycopg.connect(psycopg_conninfo(seeded.database)) as conn:
        conn.execute("update app.deals set name = %s where id = %s", (renamed, deal_id))
    try:
        shown = _read_as(seeded, seeded.demo_org, "select deal_name from analytics.dim_deals where deal_id = %s",
                         deal_id)
        assert shown == [(renamed,)]
    finally:
        with psycopg.connect(psycopg_conninfo(seeded.database)) as conn:
            conn.execute("update app.deals set name = %s where id = %s", (name, deal_id))


SEARCH_MARTS = ("agg_search_daily", "agg_search_queries", "agg_search_click_positions", "fct_search_refinements",
                "dim_search_popular_queries")


def test_the_search_marts_keep_each_organization_to_its_own_rows(seeded):
    other = str(seeded.other.organization_id)
    for mart in SEARCH_MARTS:
        assert seeded.one(f"select count(*) from analytics.{mart} where organization_id = %s", seeded.demo_org)[0] > 0
        # no `where organization_id = …`: the tables' row-level security alone keeps the demo rows out
        assert _read_as(seeded, other, f"select count(*) from analytics.{mart}") == [(0,)], mart
        demo = _read_as(seeded, seeded.demo_org, f"select count(*) from analytics.{mart}")[0][0]
        assert demo == seeded.one(f"select count(*) from analytics.{mart} where organization_id = %s",
                                  seeded.demo_org)[0], mart
