"""Ingest assets: landing files → `raw` (one asset per source), and the Maven CRM export → `app`."""

import hashlib
from datetime import UTC, datetime

import dagster as dg

from pipelines.ingest import maven_crm
from pipelines.ingest.landing import ingest_source
from pipelines.ingest.ledger import already_loaded
from pipelines.ingest.sources import SOURCES, Source
from pipelines.resources import DuckDBResource, LandingZoneResource, PostgresResource
from revorc.demo import DEMO_SLUG

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
def maven_crm_export(context: dg.AssetExecutionContext, config: CrmImportConfig, postgres: PostgresResource,
                     landing: LandingZoneResource, duckdb: DuckDBResource):
    """The Maven CRM export in `<landing>/crm/<org slug>/maven_crm/` → accounts, teams/users, deals of that org.

    Needs the organization to exist (`revorc seed-demo` creates the demo one); if it does not, nothing is
    imported and the metadata says why. Idempotent by the file ledger and by stable UUIDv5 ids.
    """
    zone = landing.landing()
    folder = f"crm/{config.organization_slug}/maven_crm"
    files = {f.relative_path.rsplit("/", 1)[-1]: f for f in zone.files("crm") if f.relative_path.startswith(folder)}
    metadata: dict[str, dg.MetadataValue] = {}
    with postgres.connect(autocommit=False) as conn:
        org = conn.execute("select id from app.organizations where slug = %s", (config.organization_slug,)).fetchone()
        missing = [name for name in maven_crm.FILES if name not in files]
        status = "skipped"
        if org is None:
            metadata["skipped_reason"] = dg.MetadataValue.text(f"organization {config.organization_slug!r} not found")
        elif missing:
            metadata["skipped_reason"] = dg.MetadataValue.text(f"missing files in {folder}: {', '.join(missing)}")
        else:
            data = {name: zone.read(files[name]) for name in maven_crm.FILES}
            digest = hashlib.sha256(b"".join(hashlib.sha256(data[n]).digest() for n in maven_crm.FILES)).hexdigest()
            shift = (datetime.now(UTC).date() - maven_crm.EXPORT_END).days if config.shift_dates_to_today else 0
            ledger_key = f"{digest}:shift={shift}"
            if already_loaded(conn, "crm", folder, ledger_key):
                metadata["skipped_reason"] = dg.MetadataValue.text("already imported (same files, same date shift)")
            else:
                with duckdb.connect() as con:
                    frames = maven_crm.transform(data, organization_id=str(org[0]), slug=config.organization_slug,
                                                 shift_days=shift, con=con)
                counts = maven_crm.load(conn, frames)
                conn.execute(
                    "insert into raw.file_ledger (source, path, checksum, size_bytes, rows_loaded, status)"
                    " values ('crm', %s, %s, %s, %s, 'loaded')",
                    (folder, ledger_key, sum(len(v) for v in data.values()), sum(counts.values())),
                )
                status = "loaded"
                metadata.update({f"{k}_written": dg.MetadataValue.int(v) for k, v in counts.items()})
                metadata["date_shift_days"] = dg.MetadataValue.int(shift)
        conn.commit()
    metadata["status"] = dg.MetadataValue.text(status)
    for key in CRM_KEYS.values():
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


