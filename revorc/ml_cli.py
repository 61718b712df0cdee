"""`revorc leads evaluate` (bring your own history) and `revorc leads train` (the `ml` group headless).

Registered by revorc.cli with `register(app)`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def byoh_registry_dir(home: Path, csv: Path) -> Path:
    """Each evaluated file gets a registry of its own: its features are the CSV's, not ml_lead_features."""
    return home / "models" / "byoh" / csv.stem


def evaluate(csv: Path, *, target: str, exclude: list[str], id_column: str | None, max_rows: int | None,
             folds: int, seed: int, home: Path, out: Console | None = None, families: list[str] | None = None,
             delimiter: str | None = None, encoding: str | None = None):
    """Cross-validate both families on the CSV, save the best to the BYOH registry and print the report."""
    from threadpoolctl import threadpool_limits

    from models.lead_scoring.byoh import render_report, run_evaluate

    registry_dir = byoh_registry_dir(home, csv)
    with threadpool_limits(limits=1, user_api="openmp"):
        report = run_evaluate(csv, target=target, exclude=exclude, id_column=id_column, registry_dir=registry_dir,
                              max_rows=max_rows, seed=seed, cv_folds=folds, delimiter=delimiter, encoding=encoding,
                              **({"families": families} if families else {}))
    out = out or console
    out.print(render_report(report))
    out.print(f"Registry: {registry_dir}")
    return report


def run_training(*, seed: int = 0, embargo_days: int | None = None):
    """Materialize the `ml` group in this process (training set → model → scores); returns the result."""
    import dagster as dg

    from pipelines.defs.dbt.project import prepare_manifest

    prepare_manifest()  # the Definitions only read the manifest; this is the step that writes it
    from pipelines.definitions import ML_ASSETS, resources
    from pipelines.defs.ml.checks import ml_checks

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    training = {"seed": seed} | ({"embargo_days": embargo_days} if embargo_days is not None else {})
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}},
              "ops": {"ml__lead_scoring_model": {"config": training}}}
    return dg.materialize([*ML_ASSETS, *ml_checks], resources=resources(), instance=instance, run_config=config,
                          raise_on_error=False)


def register(app: typer.Typer) -> None:
    leads = typer.Typer(help="Lead scoring: evaluate your own history, train and score.", no_args_is_help=True)
    app.add_typer(leads, name="leads")

    @leads.command("evaluate")
    def evaluate_cmd(
        csv: Annotated[Path, typer.Option("--csv", exists=True, dir_okay=False, help="historical leads export")],
        target: Annotated[str, typer.Option(help="the 0/1 (yes/no) outcome column")],
        exclude: Annotated[str, typer.Option(help="comma-separated columns to leave out")] = "",
        id_column: Annotated[str | None, typer.Option("--id", help="the lead id column")] = None,
        max_rows: Annotated[int | None, typer.Option(help="subsample this many rows (quick looks)")] = None,
        folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
        seed: Annotated[int, typer.Option()] = 0,
        families: Annotated[str, typer.Option(help="comma-separated candidate families (default: all)")] = "",
        delimiter: Annotated[str | None, typer.Option(
            help="field delimiter, e.g. ';' or tab (default: detected among , ; tab |)")] = None,
        encoding: Annotated[str | None, typer.Option(
            help="text encoding, e.g. cp1252 (default: BOM, else UTF-8, else Windows-1252)")] = None,
    ) -> None:
        """Cross-validate logistic regression and gradient boosting on a leads CSV; save the best model.

        Exits 1 without saving anything when no candidate is usable (the report says why)."""
        from serving.core.config import get_settings

        columns = [c.strip() for c in exclude.split(",") if c.strip()]
        try:
            report = evaluate(csv, target=target, exclude=columns, id_column=id_column, max_rows=max_rows,
                              folds=folds, seed=seed, home=get_settings().home,
                              families=[f.strip() for f in families.split(",") if f.strip()],
                              delimiter=delimiter, encoding=encoding)
        except (ValueError, KeyError) as exc:
            # escaped: column names and file text may hold [brackets] that rich would take for markup
            console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
            raise typer.Exit(1) from None
        if report.best is None:  # the report already printed why each candidate was refused
            raise typer.Exit(1)

    @leads.command("train")
    def train_cmd(
        seed: Annotated[int, typer.Option()] = 0,
        embargo_days: Annotated[int | None, typer.Option(help="override the 30-day label-window embargo")] = None,
    ) -> None:
        """Train per organization (champion rule), score open prospects and write the scores back."""
        from revorc.data_runtime import dagster_home
        from serving.core.config import get_settings

        os.environ.setdefault("DAGSTER_HOME", str(dagster_home(get_settings())))
        started = time.perf_counter()
        with console.status("Training lead-scoring models and scoring prospects…"):
            result = run_training(seed=seed, embargo_days=embargo_days)
        table = Table("asset", "details")
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            details = ", ".join(f"{k}={v.value}" for k, v in metadata.items()
                                if not isinstance(v.value, (dict, list)) and k != "path")
            table.add_row(event.asset_key.to_user_string(), details)
        for check in result.get_asset_check_evaluations():
            table.add_row(f"check {check.check_name}", "passed" if check.passed else "[yellow]failed[/yellow]")
        for event in result.all_events:
            if event.is_step_failure:
                table.add_row(event.step_key or "?", f"[red]{(event.message or '')[:120]}[/red]")
        console.print(table)
        console.print(f"{'Succeeded' if result.success else '[red]Failed[/red]'} in "
                      f"{time.perf_counter() - started:.1f}s")
        raise typer.Exit(0 if result.success else 1)
