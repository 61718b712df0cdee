"""The dashboards read the analytics marts only: no `stg_` view, no `app` or `raw` table, in any string under
`dashboards/` (SQL constants, relation names handed to `existing_relations`, the mart list counted by data health)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from dashboards.data import data_health, pipeline
from serving.deals.models import DealStage

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
MART_FILES = ROOT / "dbt_project" / "models" / "marts"

# `'app.organization_id'` is the setting `read_frame` binds the tenant with (a quoted name, not a relation).
# Sign-in goes through the API (components/session.py), so no login read of app tables is excepted either.
STAGING = re.compile(r"\bstg_\w+")
OPERATIONAL = re.compile(r"(?<![\w'])(?:app|raw)\.\w+")
ANALYTICS = re.compile(r"\banalytics\.(\w+)")


def strings(source: str) -> list[str]:
    """Every string literal of a module, f-strings' literal parts included."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def forbidden_reads(source: str) -> list[str]:
    found = []
    for text in strings(source):
        found += STAGING.findall(text) + OPERATIONAL.findall(text)
    return found


def analytics_reads(source: str) -> set[str]:
    return {name for text in strings(source) for name in ANALYTICS.findall(text)}


def marts() -> set[str]:
    return {path.stem for path in MART_FILES.rglob("*.sql")}


def test_the_scan_sees_staging_views_and_app_and_raw_tables():
    sql = "\n".join([
        'QUERY = """select * from analytics.stg_app__deals as d join app.users as u on true, raw.file_ledger"""',
        'TABLES = ("app.bdr_tasks",)',
        'BIND = "select set_config(\'app.organization_id\', :org, true)"',
    ])
    assert forbidden_reads(sql) == ["stg_app__deals", "app.users", "raw.file_ledger", "app.bdr_tasks"]


def test_no_dashboard_module_reads_a_staging_view_or_an_operational_table():
    offenders = {str(path.relative_to(ROOT)): found for path in sorted(DASHBOARDS.rglob("*.py"))
                 if (found := forbidden_reads(path.read_text()))}
    assert offenders == {}


def test_every_analytics_relation_the_dashboards_read_is_a_mart():
    read = set().union(*(analytics_reads(path.read_text()) for path in DASHBOARDS.rglob("*.py")))
    read |= set(data_health.MARTS)  # counted by name: `analytics.{n}` is built in an f-string
    later = {"fct_bdr_tasks", "fct_bdr_activities"}  # the BDR agent's marts: the page waits until they exist
    assert read - later <= marts(), sorted(read - later - marts())
    assert {"dim_users", "dim_teams", "dim_deals"} <= read


def test_the_board_lists_the_deal_stages_of_the_api_in_order():
    assert [stage.value for stage in DealStage] == pipeline.STAGES
