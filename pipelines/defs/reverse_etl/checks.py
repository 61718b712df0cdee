"""Asset checks on the reverse-ETL assets: after a write-back, `app` holds the mart's values, row for row and
organization by organization (`pipelines.reverse_etl.audit`)."""

from __future__ import annotations

import dagster as dg

from pipelines.resources import PostgresResource
from pipelines.reverse_etl import TARGETS, Target, audit


def _in_step_check(target: Target) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["reverse_etl", target.name]), name=f"{target.name}_in_step_with_mart",
                    description=f"Every {target.mart} row's values are in its {target.app} row (all changed rows "
                                "were written back) and no app row carries a value newer than the mart's.")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            rows = audit(conn, target)
        out_of_step = sum(r["out_of_step"] for r in rows)
        newer = sum(r["newer_than_mart"] for r in rows)
        return dg.AssetCheckResult(
            passed=out_of_step == 0 and newer == 0,
            metadata={"rows_out_of_step": dg.MetadataValue.int(out_of_step),
                      "rows_newer_than_mart": dg.MetadataValue.int(newer),
                      "organizations": dg.MetadataValue.json(
                          [r for r in rows if r["out_of_step"] or r["newer_than_mart"]])})

    return _check


def _per_organization_check(target: Target) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["reverse_etl", target.name]), name=f"{target.name}_rows_per_organization",
                    description=f"Per organization, as many {target.app} rows as {target.mart} rows: no mart row "
                                "lacks its app row in its own organization (deleted, or another tenant's).")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with postgres.connect() as conn:
            rows = audit(conn, target)
        missing = [{"organization_id": r["organization_id"], "mart_rows": r["mart_rows"], "app_rows": r["app_rows"]}
                   for r in rows if r["app_rows"] != r["mart_rows"]]
        return dg.AssetCheckResult(
            passed=not missing,
            metadata={"organizations_checked": dg.MetadataValue.int(len(rows)),
                      "organizations_mismatched": dg.MetadataValue.int(len(missing)),
                      "mismatches": dg.MetadataValue.json(missing)})

    return _check


reverse_etl_checks = [check for target in TARGETS
                      for check in (_in_step_check(target), _per_organization_check(target))]
