"""Time each dashboard page's queries on the current database (the demo data after `revorc up` / `revorc
materialize`), through the read-only role and the demo organization, with the query caches cleared.

    .venv/bin/python -m benchmarks.bench_dashboards [--organization-slug acme-demo] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

import psycopg
import streamlit as st

from pipelines.ingest.ledger import psycopg_conninfo
from revorc.demo import DEMO_SLUG
from serving.core.config import get_settings


def page_queries(org: str) -> dict[str, list[tuple[str, Callable[[], object]]]]:
    from dashboards.data import data_health, directory, forecast, intent, lead_scoring, outreach, performance, pipeline

    today = date.today()
    since = today - timedelta(days=89)
    return {
        "pipeline": [("filters", lambda: (directory.teams(org), directory.users(org), pipeline.amount_range(org))),
                     ("stage totals", lambda: pipeline.stage_totals(org)),
                     ("deals", lambda: pipeline.deals(org))],
        "forecast": [("summary", lambda: forecast.summary(org, "quarter")),
                     ("by owner", lambda: forecast.by_dimension(org, "owner", "quarter", False)),
                     ("by team", lambda: forecast.by_dimension(org, "team", "quarter", False)),
                     ("accuracy", lambda: forecast.accuracy(org, "quarter"))],
        "performance": [("activity", lambda: (performance.activity_totals(org, since, today),
                                              performance.activity_weekly(org, since, today))),
                        ("pipeline", lambda: (performance.pipeline_monthly(org, since, today),
                                              performance.open_pipeline(org))),
                        ("email", lambda: performance.email_daily(org, since, today))],
        "outreach": [("templates", lambda: outreach.performance(org, "template", since, today)),
                     ("cadences", lambda: outreach.performance(org, "cadence", since, today)),
                     ("send times", lambda: outreach.send_times(org, since, today)),
                     ("channels", lambda: outreach.channels(org, since, today))],
        "intent": [("tiers", lambda: intent.tier_counts(org)),
                   ("top prospects", lambda: intent.sparklines(org, "prospect", tuple(
                       intent.top_prospects(org)["prospect_id"].astype(str)))),
                   ("top accounts", lambda: intent.top_accounts(org)),
                   ("spikes", lambda: intent.spikes(org)),
                   ("signals by type", lambda: intent.signals_by_type(org))],
        "lead_scoring": [("champion", lambda: lead_scoring.champion(org)),
                         ("distribution", lambda: lead_scoring.score_distribution(org)),
                         ("drift", lambda: _drift(org))],
        "data_health": [("row counts", lambda: data_health.row_counts(org)),
                        ("rejected", lambda: (data_health.rejected_records(org), data_health.file_ledger(org)))],
    }


def _drift(org: str):
    from dashboards.data import lead_scoring

    champion = lead_scoring.champion(org)
    if champion is None or not champion.version:
        return None
    return lead_scoring.drift_by_day(lead_scoring.daily_scores(org, champion.version), reference=champion.reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organization-slug", default=DEMO_SLUG)
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the best is reported")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    settings = get_settings()
    with psycopg.connect(psycopg_conninfo(settings.owner_database_url)) as conn:
        row = conn.execute("select id from app.organizations where slug = %s", (args.organization_slug,)).fetchone()
        if row is None:
            raise SystemExit(f"no organization {args.organization_slug!r}: run `revorc seed-demo` first")
        prospects = conn.execute("select count(*) from app.prospects where organization_id = %s", row).fetchone()[0]
    org = str(row[0])
    print(f"organization {args.organization_slug} ({prospects:,} prospects), best of {args.repeat}")
    for page, queries in page_queries(org).items():
        page_total = 0.0
        lines = []
        for name, run in queries:
            best = float("inf")
            for _ in range(args.repeat):
                st.cache_data.clear()
                started = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - started)
            page_total += best
            lines.append(f"    {name:<18} {best * 1000:8.1f} ms")
        print(f"{page:<14} {page_total * 1000:8.1f} ms")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
