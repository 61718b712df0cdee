"""`revorc materialize` and `revorc bench`: the data platform from the command line (registered by revorc.cli)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()

# `revorc bench NAME` runs `benchmarks.bench_NAME.run(prospects=, seed=, console=)`: the rows of the performance
# table (docs/performance.md), each with its baseline measured in the same run.
BENCHMARKS = {
    "api": "GET /api/v1/prospects/{id} under 50 connections vs a bare FastAPI + psycopg app",
    "scoring": "POST /api/v1/scoring/score p99 under 8 clients vs the model's own predict_proba",
    "freshness": "event posted → intent and lead score visible in the API",
    "dbt": "dbt build after a 1 % increment vs the full build",
    "ingest": "landed files → raw vs a binary COPY of the same rows",
    "outreach": "due cadence steps/s and bulk e-mail render + enqueue",
    "search": "GET /api/v1/search vs Typesense direct, reindex vs Typesense import, vector recall@10 and p99",
    "workspace": "the rep's workspace pages rendered at N prospects vs 1,000 (target ≤ 1 s at 1,000,000)",
}


def run_materialization(select: str | None = None, *, as_of: str = "", full_refresh: bool = False):
    """Run the asset graph (or a selection) in this process; returns the Dagster result."""
    import dagster as dg

    from pipelines.defs.dbt.project import prepare_manifest

    prepare_manifest()  # the Definitions only read the manifest; this is the step that writes it
    from pipelines.definitions import ASSETS, defs, resources
    from pipelines.defs.ingest.checks import ingest_checks
    from pipelines.defs.reverse_etl.checks import reverse_etl_checks

    selection = dg.AssetSelection.from_string(select) if select else None
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    assets = [*ASSETS, *ingest_checks, *reverse_etl_checks]
    selected = selection.resolve(defs.resolve_asset_graph()) if selection else None
    dbt_selected = selected is None or any(key.path[0] == "analytics" for key in selected)
    # The rich progress display is the interface here; Dagster's step logs stay in the run's event log.
    config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if dbt_selected:
        config["ops"] = {"revorc_dbt_models": {"config": {"as_of": as_of, "full_refresh": full_refresh}}}
    return dg.materialize(assets, resources=resources(), selection=selection, instance=instance,
                          run_config=config, raise_on_error=False)


def register(app: typer.Typer) -> None:
    @app.command("prepare-dbt")
    def prepare_dbt_cmd(
        force: Annotated[bool, typer.Option(help="parse even when the manifest is newer than the project")] = False,
    ) -> None:
        """Write the dbt manifest the Dagster code location loads (`dbt parse`, only when it is missing or stale)."""
        from pipelines.defs.dbt.project import prepare_manifest

        with console.status("Parsing the dbt project…"):
            manifest = prepare_manifest(force=force)
        console.print(f"[green]dbt manifest ready:[/green] {manifest}")

    @app.command("materialize")
    def materialize_cmd(
        select: Annotated[str | None, typer.Option(help="asset selection, e.g. 'group:ingest' or 'key:raw/*'")] = None,
        full_refresh: Annotated[bool, typer.Option(help="rebuild incremental dbt models")] = False,
        as_of: Annotated[str, typer.Option(help="pin 'today' for dbt (YYYY-MM-DD)")] = "",
    ) -> None:
        """Run the data pipeline headless: ingest landing files, dbt build, reverse-ETL."""
        from revorc.data_runtime import dagster_home
        from serving.core.config import get_settings

        settings = get_settings()
        settings.owner_database_url  # noqa: B018  (no database → a clear NotConfigured before Dagster starts)
        os.environ.setdefault("DAGSTER_HOME", str(dagster_home(settings)))
        started = time.perf_counter()
        with console.status("Materializing assets (ingest → dbt → reverse-ETL)…"):
            result = run_materialization(select, as_of=as_of, full_refresh=full_refresh)
        table = Table("asset", "status", "details")
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            details = ", ".join(f"{k}={v.value}" for k, v in metadata.items()
                                if k in ("rows_loaded", "rows_rejected", "rows_changed", "status"))
            table.add_row(event.asset_key.to_user_string(), "[green]materialized[/green]", details)
        for event in result.all_events:
            if event.is_step_failure:
                table.add_row(event.step_key or "?", "[red]failed[/red]", (event.message or "")[:120])
        console.print(table)
        console.print(f"{'Succeeded' if result.success else '[red]Failed[/red]'} in "
                      f"{time.perf_counter() - started:.1f}s")
        raise typer.Exit(0 if result.success else 1)

    @app.command("bench")
    def bench_cmd(
        what: Annotated[list[str] | None, typer.Argument(
            help=f"which benchmarks ({', '.join(BENCHMARKS)}); none = all, in that order")] = None,
        prospects: Annotated[int, typer.Option(help="size of the generated data set (1000000 on request)")] = 10_000,
        seed: Annotated[int, typer.Option()] = 7,
        markdown: Annotated[bool, typer.Option(help="also print the table as Markdown (for the README)")] = False,
    ) -> None:
        """Each figure of the performance table beside its baseline measured in the same run, and the target."""
        import importlib

        from benchmarks.common import markdown as as_markdown
        from benchmarks.common import print_rows

        chosen = what or list(BENCHMARKS)
        unknown = sorted(set(chosen) - set(BENCHMARKS))
        if unknown:
            raise typer.BadParameter(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        rows = []
        for name in chosen:
            console.rule(f"[bold]{name}[/bold] — {BENCHMARKS[name]}")
            module = importlib.import_module(f"benchmarks.bench_{name}")
            found = module.run(prospects=prospects, seed=seed, console=console)
            print_rows(found, console, title=f"{name} ({prospects:,} prospects)")
            rows.extend(found)
        if len(chosen) > 1:
            print_rows(rows, console, title=f"All benchmarks ({prospects:,} prospects)")
        if markdown:
            console.print(as_markdown(rows), markup=False, highlight=False)
