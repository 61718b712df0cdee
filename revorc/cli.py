"""`revorc`: start the embedded services, migrate, create tenants, load demo data, serve."""

from __future__ import annotations

import os
import shlex
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from revorc import services
from revorc.data_cli import register as register_data_commands
from revorc.ml_cli import register as register_ml_commands
from revorc.processes import api_process, supervise
from revorc.processes import start as start_processes
from revorc.processes import stop as stop_processes
from revorc.worker_cli import register as register_worker_commands
from revorc.worker_cli import worker_processes
from serving.core.config import NotConfigured, Settings, get_settings
from serving.core.db import engine_for, libpq_url

app = typer.Typer(help="AIRevenueOrc: revenue orchestration platform.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()


def _settings() -> Settings:
    return get_settings()


def _database_url(settings: Settings) -> str:
    """The owner URL, or a clear message and exit 1 when no database is configured or running."""
    try:
        return settings.owner_database_url
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _owner_session(settings: Settings) -> Session:
    # Objects stay readable after the commit, so commands can report what they created.
    return Session(engine_for(_database_url(settings)), expire_on_commit=False)


@app.command("services")
def services_cmd(
    foreground: Annotated[bool, typer.Option(help="stay in the foreground; Ctrl-C stops the services")] = True,
    typesense: Annotated[bool, typer.Option(help="also start Typesense")] = True,
) -> None:
    """Start the embedded PostgreSQL 18 + pgvector and Typesense (unless configured by URL)."""
    settings = _settings()
    with console.status("Starting PostgreSQL and Typesense…"):
        runtime = services.start_all(settings, typesense=typesense)
    _print_runtime(runtime)
    if not foreground:
        return
    console.print("Services running. Press Ctrl-C to stop.")
    import signal
    import time

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `kill`) stops the services as Ctrl-C does; SIGINT is installed explicitly
    # because a shell starting this in the background hands it over ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        stopped = services.stop_all(settings)
        console.print(f"Stopped: {', '.join(stopped) or 'nothing'}")


@app.command("stop")
def stop_cmd() -> None:
    """Stop the embedded services started from this REVORC_HOME."""
    stopped = services.stop_all(_settings())
    console.print(f"Stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command("env")
def env_cmd() -> None:
    """Print DATABASE_URL and the Typesense settings as shell `export` lines."""
    settings = _settings()
    lines = {"REVORC_HOME": str(settings.home), "DATABASE_URL": libpq_url(_database_url(settings))}
    typesense = settings.typesense
    if typesense:
        lines["TYPESENSE_URL"], lines["TYPESENSE_API_KEY"] = typesense
    for key, value in lines.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply the database migrations (Alembic upgrade head)."""
    from serving.core.migrate import upgrade

    with console.status("Migrating the database…"):
        upgrade(_database_url(_settings()))
    console.print("[green]Database is up to date.[/green]")


@app.command("create-org")
def create_org_cmd(
    name: Annotated[str, typer.Argument(help="organization name")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="e-mail of the first admin")],
    admin_password: Annotated[
        str | None, typer.Option("--admin-password", help="or REVORC_ADMIN_PASSWORD, or a prompt")
    ] = None,
    admin_name: Annotated[str | None, typer.Option("--admin-name")] = None,
    plan: Annotated[str, typer.Option("--plan", help="free, starter, pro or enterprise (limits: docs/billing.md)")]
    = "free",
) -> None:
    """Create a tenant and its first admin user."""
    from serving.core.errors import Conflict
    from serving.organizations.models import Plan
    from serving.organizations.service import create_organization

    if plan not in Plan.__members__:
        console.print(f"[red]--plan must be one of {', '.join(Plan.__members__)}[/red]")
        raise typer.Exit(2)

    password = admin_password or os.environ.get("REVORC_ADMIN_PASSWORD")
    if not password:
        password = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    with _owner_session(settings) as session, session.begin():
        try:
            org, team, admin = create_organization(db_session=session, name=name, admin_email=admin_email,
                                                   admin_password=password, admin_name=admin_name)
        except (ValueError, Conflict) as exc:
            console.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
            raise typer.Exit(1) from None
        org.plan = plan
    console.print(f"Created organization [bold]{org.name}[/bold] ({org.id}), team {team.name}, admin {admin.email}, "
                  f"plan {plan}")


@app.command("set-plan")
def set_plan_cmd(
    slug: Annotated[str, typer.Argument(help="the organization's slug")],
    plan: Annotated[str, typer.Argument(help="free, starter, pro or enterprise")],
) -> None:
    """Put an organization on a plan without Stripe (self-hosted or invoiced customers). With Stripe configured,
    its subscription events set the plan again when they arrive."""
    from sqlalchemy import select

    from serving.organizations.models import Organization, Plan

    if plan not in Plan.__members__:
        console.print(f"[red]plan must be one of {', '.join(Plan.__members__)}[/red]")
        raise typer.Exit(2)
    with _owner_session(_settings()) as session, session.begin():
        org = session.scalar(select(Organization).where(Organization.slug == slug))
        if org is None:
            console.print(f"[red]no organization with the slug {slug!r}[/red]")
            raise typer.Exit(1)
        previous, org.plan = org.plan, plan
    console.print(f"{org.name}: plan {previous} → {plan}")


@app.command("seed-demo")
def seed_demo_cmd(
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 42,
    prospects: Annotated[int, typer.Option(help="demo prospects in the CRM (landing files cover as many)")] = 500,
    landing_prospects: Annotated[
        int | None, typer.Option(help="people in the landing files (default: --prospects); 1,000,000 works")
    ] = None,
) -> None:
    """The demo organization (users, CRM records) and its landing files in every format, once."""
    _seed_demo(_settings(), seed=seed, prospects=prospects, landing_prospects=landing_prospects)


def _seed_demo(settings: Settings, *, seed: int, prospects: int, landing_prospects: int | None = None) -> bool:
    """Returns True when the demo organization was created now."""
    from pipelines.demo_data import demo_landing
    from revorc.demo import DEMO_USERS, seed_demo

    if settings.environment == "production":
        console.print("[red]Refusing to load demo data with REVORC_ENV=production.[/red]")
        raise typer.Exit(1)
    with console.status("Loading demo CRM records…"), _owner_session(settings) as session, session.begin():
        summary = seed_demo(session, seed=seed, prospects=min(prospects, 20_000))
    if summary.created:
        console.print("Demo data loaded: " + ", ".join(f"{v} {k}" for k, v in summary.counts.items()))
        with console.status("Writing demo landing files (intent, e-mail and website events, enrichment, CRM)…"):
            landing = demo_landing(settings, prospects=landing_prospects or prospects, seed=seed)
        console.print(f"Landing files: {landing.files} files, "
                      + ", ".join(f"{v:,} {k}" for k, v in landing.rows.items()))
    else:
        console.print("Demo organization already exists; kept its data.")
    table = Table(title="Demo logins (organization Acme Demo)")
    for column in ("role", "email", "password"):
        table.add_column(column)
    for role, (email, password, _) in DEMO_USERS.items():
        table.add_row(str(role), email, password)
    console.print(table)
    return summary.created


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int | None, typer.Option(help="API processes (default: API_WORKERS, one per core up to 4)",
                                                min=1)] = None,
) -> None:
    """Serve the API (uvicorn, several processes sharing the port)."""
    import uvicorn

    settings = _settings()
    count = workers or settings.api_workers
    if count == 1:
        from serving.main import create_app

        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True)
    else:  # uvicorn's own supervisor: each process builds the app from the same environment
        uvicorn.run("serving.main:create_app", factory=True, host=host, port=port, proxy_headers=True,
                    workers=count)


@app.command("up")
def up_cmd(
    host: Annotated[str, typer.Option(help="interface the API, Dagster UI and dashboards bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    demo: Annotated[bool, typer.Option(help="load the demo organization and materialize the pipelines")] = True,
) -> None:
    """Services, migrations, demo data, one full materialization, then API, worker, Dagster UI and dashboards."""
    from pipelines.defs.dbt.project import prepare_manifest
    from revorc.dashboard_runtime import streamlit_process
    from revorc.data_cli import run_materialization
    from revorc.data_runtime import dagster_home, dagster_processes, initialize_instance
    from serving.core.migrate import upgrade

    settings = _settings()
    with console.status("Starting PostgreSQL and Typesense…"):
        runtime = services.start_all(settings)
    _print_runtime(runtime)
    app_processes = [
        api_process(settings, host, port),
        *worker_processes(settings),
        streamlit_process(settings, host=host, api_url=f"http://{host}:{port}"),
    ]
    dagster = dagster_processes(settings, host=host)
    processes = [*app_processes, *dagster]
    try:
        with console.status("Migrating the database…"):
            upgrade(settings.owner_database_url)
        if demo:
            _seed_demo(settings, seed=42, prospects=500)
        start_processes(app_processes, settings)
        # The Dagster instance's storage is created here, once, before the webserver and daemon open it
        # (on a fresh DAGSTER_HOME they would otherwise race to create the same tables).
        os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
        initialize_instance()
        with console.status("Parsing the dbt project for the Dagster code location…"):
            prepare_manifest()
        if demo:
            with console.status("Materializing the pipelines (ingest → dbt → ML → reverse-ETL)…"):
                result = run_materialization()
            console.print("Pipelines materialized." if result.success else
                          "[yellow]Some assets failed to materialize; open the Dagster UI for details.[/yellow]")
        start_processes(dagster, settings)
    except BaseException:
        stop_processes(processes)
        services.stop_all(settings)
        raise
    table = Table(title="AIRevenueOrc is running")
    table.add_column("what")
    table.add_column("where")
    for process in processes:
        if process.url:
            table.add_row(process.name, process.url)
    table.add_row("API docs", f"http://{host}:{port}/docs")
    table.add_row("logs", str(settings.home / "logs"))
    console.print(table)
    console.print("Press Ctrl-C to stop everything.")
    code = supervise(processes, settings, console)
    stopped = services.stop_all(settings)
    console.print(f"Stopped: {', '.join([p.name for p in processes] + stopped)}")
    raise typer.Exit(code)


def _print_runtime(runtime: services.Runtime) -> None:
    table = Table(title="Services")
    table.add_column("service")
    table.add_column("address")
    table.add_row("PostgreSQL", libpq_url(runtime.database_url) if runtime.database_url else "")
    if runtime.typesense_url:
        table.add_row("Typesense", runtime.typesense_url)
    console.print(table)


register_data_commands(app)
register_ml_commands(app)
register_worker_commands(app)


def main() -> None:
    """The `revorc` entry point: an expected failure (nothing running, unreachable database, a service that
    would not start) is one clear line and exit code 1, not a traceback."""
    import psycopg
    import sqlalchemy.exc

    try:
        app()
    except (NotConfigured, services.ServiceError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
    except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        console.print(f"[red]error:[/red] cannot reach the database: {reason}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
