"""`revorc materialize` and `revorc bench`: the data platform from the command line (registered by revorc.cli)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


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
        what: Annotated[str, typer.Argument(help="what to benchmark: ingest")] = "ingest",
        prospects: Annotated[int, typer.Option(help="size of the generated data set")] = 10_000,
        seed: Annotated[int, typer.Option()] = 7,
    ) -> None:
        """Events/s per ingest asset, and dbt build time full vs incremental after a 1% increment."""
        if what != "ingest":
            raise typer.BadParameter("only `ingest` is available")
        from benchmarks.bench_ingest import run
        from serving.core.config import get_settings

        get_settings().owner_database_url  # noqa: B018  (no database → a clear NotConfigured)

        run(prospects=prospects, seed=seed, console=console)
