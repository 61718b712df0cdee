"""Asset checks on the ingest assets: freshness and row-count anomalies (dbt tests become checks by themselves)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.ingest.health import is_fresh, row_count_anomaly
from pipelines.ingest.sources import SOURCES
from pipelines.resources import PostgresResource

MAX_AGE = timedelta(hours=26)


def _freshness_check(source: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["raw", source]), name=f"{source}_freshness",
                    description=f"{table} received rows within the last {MAX_AGE}.", blocking=False)
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            last = conn.execute(f"select max(loaded_at) from {table}").fetchone()[0]
        now = datetime.now(UTC)
        return dg.AssetCheckResult(
            passed=is_fresh(last, now, MAX_AGE), severity=dg.AssetCheckSeverity.WARN,
            metadata={"last_loaded_at": dg.MetadataValue.text(str(last)),
                      "age_hours": dg.MetadataValue.float(
                          round((now - last).total_seconds() / 3600, 2) if last else -1.0)},
        )

    return _check


def _volume_check(source: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["raw", source]), name=f"{source}_row_count_anomaly",
                    description="Rows loaded today within 10%–10× of the trailing 7-day daily average.")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            rows = conn.execute(
                f"select loaded_at::date, count(*) from {table} where loaded_at >= current_date - 7 group by 1"
            ).fetchall()
        by_day = {day: count for day, count in rows}
        today = datetime.now(UTC).date()
        previous = [by_day.get(today - timedelta(days=n), 0) for n in range(1, 8)]
        reason = row_count_anomaly(by_day.get(today, 0), previous)
        return dg.AssetCheckResult(
            passed=reason is None, severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_today": dg.MetadataValue.int(by_day.get(today, 0)),
                      "reason": dg.MetadataValue.text(reason or "within range")},
        )

    return _check


ingest_checks = [check for s in SOURCES.values()
                 for check in (_freshness_check(s.name, s.table), _volume_check(s.name, s.table))]
