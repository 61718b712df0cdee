"""Ingest assets: landing files → `raw` (one asset per source), and the Maven CRM export → `app`."""

import dagster as dg

from pipelines.ingest import maven_crm
from pipelines.ingest.landing import ingest_source
from pipelines.ingest.sources import SOURCES, Source
from pipelines.resources import DuckDBResource, LandingZoneResource, PostgresResource
from revorc.demo import DEMO_SLUG
from serving.core.clock import utcnow

INGEST_GROUP = "ingest"
DESCRIPTIONS = {
    "email_events": "SendGrid Event Webhook batches (JSON arrays or JSON lines), de-duplicated on sg_event_id.",
    "website_events": "Segment page/track/identify/batch messages (JSON lines); duplicates by messageId dropped.",
    "enrichment_records": "Person and company records per provider (JSON or CSV), merged by dbt's waterfall.",
    "intent_signals": "Intent feeds (CSV or JSON): website visits, LinkedIn, job postings, technographics, funding,"
                      " news.",
}


def _ingest(context: dg.AssetExecutionContext, source: Source, postgres: PostgresResource,
            landing: LandingZoneResource) -> dg.MaterializeResult:
    totals = {"files_loaded": 0, "files_skipped": 0, "files_rejected": 0, "rows_loaded": 0, "rows_rejected": 0,
              "duplicates": 0}
    reasons: dict[str, int] = {}
    with postgres.connect() as conn:
        for result in ingest_source(conn, landing.landing(), source):
            totals[f"files_{result.status}"] += 1
            totals["rows_loaded"] += result.rows_loaded
            totals["rows_rejected"] += result.rows_rejected
            totals["duplicates"] += result.duplicates
            for reason, count in result.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
            if result.status != "skipped":
                context.log.info(f"{source.name}: {result.path} {result.status} "
                                 f"({result.rows_loaded} loaded, {result.rows_rejected} rejected)")
        table_rows = conn.execute(f"select count(*) from {source.table}").fetchone()[0]
    return dg.MaterializeResult(metadata={
        **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
        "rejected_count": dg.MetadataValue.int(totals["rows_rejected"]),
        "rejected_reasons": dg.MetadataValue.json(reasons),
        "table_row_count": dg.MetadataValue.int(table_rows),
    })


def _build_ingest_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["raw", source.name]),
        group_name=INGEST_GROUP,
        description=DESCRIPTIONS[source.name],
        kinds={"python", "postgres"},
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource,
               landing: LandingZoneResource) -> dg.MaterializeResult:
        return _ingest(context, source, postgres, landing)

    return _asset


raw_ingest_assets = [_build_ingest_asset(source) for source in SOURCES.values()]


class CrmImportConfig(dg.Config):
    organization_slug: str = DEMO_SLUG
    # shift the export's dates so its last day (2017-12-31) is today: the demo shows current pipeline
    shift_dates_to_today: bool = True


CRM_KEYS = {name: dg.AssetKey(["app", name]) for name in ("teams", "users", "accounts", "deals", "activities")}


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name=INGEST_GROUP, kinds={"python", "duckdb", "postgres"},
                        description=f"app.{name} rows imported from the Maven CRM export")
           for name, key in CRM_KEYS.items()],
    can_subset=False,
    name="maven_crm_export",
)
def maven_crm_export(config: CrmImportConfig, postgres: PostgresResource, landing: LandingZoneResource,
                     duckdb: DuckDBResource):
    """The Maven CRM export in `<landing>/crm/<org slug>/maven_crm/` → accounts, teams/users, deals of that org.

    Needs the organization to exist (`revorc seed-demo` creates the demo one); if it does not, nothing is
    imported and the metadata says why. Once per export and date shift by the file ledger (`maven_crm.import_export`).
    """
    with postgres.connect() as conn, duckdb.connect() as con:
        result = maven_crm.import_export(conn, landing.landing(), organization_slug=config.organization_slug,
                                         today=utcnow().date(), shift_dates_to_today=config.shift_dates_to_today,
                                         con=con)
    metadata: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(result.status),
        **{f"{table}_written": dg.MetadataValue.int(count) for table, count in result.written.items()},
        "rows_rejected": dg.MetadataValue.int(result.rows_rejected),
        "rejected_reasons": dg.MetadataValue.json(result.reasons),
    }
    if result.reason:
        metadata["skipped_reason" if result.status == "skipped" else "reason"] = dg.MetadataValue.text(result.reason)
    if result.status == "loaded":
        metadata["date_shift_days"] = dg.MetadataValue.int(result.shift_days)
    for key in CRM_KEYS.values():
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
