"""The Maven CRM export through the ingest ledger: once per export, all or nothing, unreadable rows reported."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from pipelines.definitions import resources
from pipelines.defs.ingest.assets import maven_crm_export
from pipelines.ingest.landing import Landing
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.ingest.maven_crm import import_export
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines import landing_files as lf

TODAY = date(2018, 1, 10)  # ten days after the export's last day
ACCOUNTS = """account,sector,year_established,revenue,employees,office_location,subsidiary_of
Acme Corporation,technolgy,1996,1100.04,2822,United States,
Betasoloin,medical,1999,251.41,495,Philipines,Acme Corporation
Cancity,retail,2001,718.62,many,United States,
"""
PRODUCTS = """product,series,sales_price
GTX Basic,GTX,550
GTX Pro,GTX,4821
"""
TEAMS = """sales_agent,manager,regional_office
Anna Snelling,Dustin Brinkmann,Central
Moses Frase,Dustin Brinkmann,Central
Darcel Schlecht,Rocco Neubert,East
"""
PIPELINE = """opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value
OPP00001,Anna Snelling,GTXPro,Acme Corporation,Won,2017-01-05,2017-03-01,4514
OPP00002,Moses Frase,GTX Basic,Betasoloin,Engaging,2017-12-01,,
OPP00003,Darcel Schlecht,GTX Basic,,Prospecting,,,
OPP00004,Anna Snelling,GTX Basic,Acme Corporation,Closed,2017-01-05,2017-02-01,500
OPP00005,Moses Frase,GTX Basic,Acme Corporation,Lost,2017-13-45,2017-02-01,0
OPP00001,Moses Frase,GTX Basic,Acme Corporation,Lost,2017-01-05,2017-02-01,0
OPP00006,Anna Snelling,GTX Pro,Acme Corporation,Won,2017-01-05,2017-02-01,1e20
"""
EXPORT = {"accounts.csv": ACCOUNTS, "products.csv": PRODUCTS, "sales_teams.csv": TEAMS,
          "sales_pipeline.csv": PIPELINE}


@pytest.fixture
def org(fresh_database, tmp_path):
    tenant = make_tenant(make_settings(fresh_database, tmp_path))
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        slug = conn.execute("select slug from app.organizations where id = %s", (tenant.organization_id,)).fetchone()[0]
    return fresh_database, slug, tenant.organization_id


def _land(root: Path, slug: str, files: dict[str, str]) -> Landing:
    for name, content in files.items():
        lf.write(root, f"crm/{slug}/maven_crm/{name}", content)
    return Landing(str(root))


def _counts(conn, org) -> dict[str, int]:
    counts = {t: conn.execute(f"select count(*) from app.{t} where organization_id = %s", (org,)).fetchone()[0]
              for t in ("accounts", "deals", "activities")}
    counts["teams"] = conn.execute("select count(*) from app.teams where organization_id = %s and name like 'Maven %%'",
                                   (org,)).fetchone()[0]
    counts["users"] = conn.execute("select count(*) from app.users where email like '%%.maven.example'").fetchone()[0]
    for table in ("file_ledger", "rejected_records"):
        counts[table] = conn.execute(f"select count(*) from raw.{table} where source = 'crm'").fetchone()[0]
    return counts


def test_good_rows_load_once_and_unreadable_rows_are_rejected_with_reasons(org, tmp_path):
    url, slug, org_id = org
    landing = _land(tmp_path / "landing", slug, EXPORT)
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        first = import_export(conn, landing, organization_slug=slug, today=TODAY, shift_dates_to_today=True)
        after_first = _counts(conn, org_id)
        rejected = conn.execute("select source_file, line_number, reason from raw.rejected_records"
                                " where source = 'crm'").fetchall()
        amount = conn.execute("select amount, close_date from app.deals where metadata ->> 'maven_opportunity_id'"
                              " = 'OPP00001' and organization_id = %s", (org_id,)).fetchone()
        # the same export landed again (same bytes, same folder, same day): nothing is loaded twice
        _land(tmp_path / "landing", slug, EXPORT)
        again = import_export(conn, landing, organization_slug=slug, today=TODAY, shift_dates_to_today=True)
        assert _counts(conn, org_id) == after_first
    assert (first.status, again.status) == ("loaded", "skipped")
    assert again.reason == "already imported (same files, same date shift)"
    assert first.shift_days == 10
    assert first.written == {"teams": 2, "users": 5, "accounts": 2, "deals": 3, "activities": 3}
    assert after_first == {"teams": 2, "accounts": 2, "deals": 3, "activities": 3, "users": 5, "file_ledger": 1,
                           "rejected_records": 5}
    folder = f"crm/{slug}/maven_crm"
    assert sorted(rejected, key=lambda r: r[2]) == [
        (folder, 7, "duplicate opportunity_id: 'OPP00001' in sales_pipeline.csv"),
        (folder, 8, "invalid close_value: '1e20' in sales_pipeline.csv"),
        (folder, 4, "invalid employees: 'many' in accounts.csv"),
        (folder, 6, "invalid engage_date: '2017-13-45' in sales_pipeline.csv"),
        (folder, 5, "unknown deal_stage: 'Closed' in sales_pipeline.csv"),
    ]
    assert first.reasons == {"duplicate opportunity_id": 1, "invalid employees": 1, "invalid close_value": 1,
                             "invalid engage_date": 1, "unknown deal_stage": 1}
    assert amount == (4514, date(2017, 3, 11))  # the first OPP00001 row, shifted ten days


def test_an_export_missing_a_column_loads_nothing_and_says_why(org, tmp_path):
    url, slug, org_id = org
    broken = {**EXPORT, "sales_pipeline.csv": PIPELINE.replace("deal_stage,", "stage,", 1)}
    landing = _land(tmp_path / "landing", slug, broken)
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        result = import_export(conn, landing, organization_slug=slug, today=TODAY, shift_dates_to_today=False)
        counts = _counts(conn, org_id)
        ledger = conn.execute("select status, reason from raw.file_ledger where source = 'crm'").fetchall()
    assert result.status == "rejected"
    assert result.reason == "corrupt file: sales_pipeline.csv lacks column(s) deal_stage"
    assert counts == {"teams": 0, "accounts": 0, "deals": 0, "activities": 0, "users": 0, "file_ledger": 1,
                      "rejected_records": 1}
    assert ledger == [("rejected", result.reason)]


def test_a_database_error_midway_leaves_nothing_behind(org, tmp_path):
    url, slug, org_id = org
    landing = _land(tmp_path / "landing", slug, EXPORT)
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        # someone already has the address the import gives Moses Frase: the users upsert fails after the teams
        conn.execute("insert into app.users (id, organization_id, email, full_name, role)"
                     " values (gen_random_uuid(), %s, %s, 'Moses', 'user')",
                     (org_id, f"moses.frase@{slug}.maven.example"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            import_export(conn, landing, organization_slug=slug, today=TODAY, shift_dates_to_today=False)
        counts = _counts(conn, org_id)
    assert counts == {"teams": 0, "accounts": 0, "deals": 0, "activities": 0, "users": 1, "file_ledger": 0,
                      "rejected_records": 0}


def test_waits_for_the_organization_and_every_file(org, tmp_path):
    url, slug, _ = org
    landing = _land(tmp_path / "landing", slug, {k: v for k, v in EXPORT.items() if k != "products.csv"})
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        partial = import_export(conn, landing, organization_slug=slug, today=TODAY, shift_dates_to_today=False)
        nobody = import_export(conn, landing, organization_slug="no-such-org", today=TODAY,
                               shift_dates_to_today=False)
        ledger = conn.execute("select count(*) from raw.file_ledger").fetchone()[0]
    assert (partial.status, partial.reason) == ("skipped", f"missing files in crm/{slug}/maven_crm: products.csv")
    assert (nobody.status, nobody.reason) == ("skipped", "organization 'no-such-org' not found")
    assert ledger == 0  # nothing recorded: the export loads once the rest lands


def test_the_asset_reports_what_the_helper_did(org, tmp_path):
    url, slug, _ = org
    root = tmp_path / "landing"
    _land(root, slug, EXPORT)
    config = {"ops": {"maven_crm_export": {"config": {"organization_slug": slug, "shift_dates_to_today": False}}}}
    result = dg.materialize([maven_crm_export], resources=resources(database_url=url, landing_url=str(root)),
                            run_config=config)
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    deals = metadata["app/deals"]
    assert deals["status"].value == "loaded"
    assert deals["deals_written"].value == 3
    assert deals["rows_rejected"].value == 5
    assert deals["rejected_reasons"].value["unknown deal_stage"] == 1
    assert set(metadata) == {"app/teams", "app/users", "app/accounts", "app/deals", "app/activities"}
