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
from revorc.processes import api_process, run_supervised
from serving.core.config import Settings, get_settings
from serving.core.db import engine_for

app = typer.Typer(help="AIRevenueOrc: revenue orchestration platform.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()


def _settings() -> Settings:
    return get_settings()


def _owner_session(settings: Settings) -> Session:
    return Session(engine_for(settings.owner_database_url))


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
    try:
        while True:
            import time

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
    lines = {"REVORC_HOME": str(settings.home), "DATABASE_URL": settings.owner_database_url.replace(
        "postgresql+psycopg://", "postgresql://")}
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
        upgrade(_settings().owner_database_url)
    console.print("[green]Database is up to date.[/green]")


@app.command("create-org")
def create_org_cmd(
    name: Annotated[str, typer.Argument(help="organization name")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="e-mail of the first admin")],
    admin_password: Annotated[
        str | None, typer.Option("--admin-password", help="or REVORC_ADMIN_PASSWORD, or a prompt")
    ] = None,
    admin_name: Annotated[str | None, typer.Option("--admin-name")] = None,
) -> None:
    """Create a tenant and its first admin user."""
    from serving.core.errors import Conflict
    from serving.organizations.service import create_organization

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
    console.print(f"Created organization [bold]{org.name}[/bold] ({org.id}), team {team.name}, admin {admin.email}")


@app.command("seed-demo")
def seed_demo_cmd(
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 42,
    prospects: Annotated[int, typer.Option(help="number of demo prospects")] = 500,
) -> None:
    """Create the demo organization with users and CRM records (once; later runs keep the data)."""
    _seed_demo(_settings(), seed=seed, prospects=prospects)


def _seed_demo(settings: Settings, *, seed: int, prospects: int) -> None:
    from revorc.demo import DEMO_USERS, seed_demo

    if settings.environment == "production":
        console.print("[red]Refusing to load demo data with REVORC_ENV=production.[/red]")
        raise typer.Exit(1)
    with console.status("Loading demo data…"), _owner_session(settings) as session, session.begin():
        summary = seed_demo(session, seed=seed, prospects=prospects)
    if summary.created:
        console.print("Demo data loaded: " + ", ".join(f"{v} {k}" for k, v in summary.counts.items()))
    else:
        console.print("Demo organization already exists; kept its data.")
    table = Table(title="Demo logins (organization Acme Demo)")
    for column in ("role", "email", "password"):
        table.add_column(column)
    for role, (email, password, _) in DEMO_USERS.items():
        table.add_row(str(role), email, password)
    console.print(table)


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Serve the API (uvicorn)."""
    import uvicorn

    from serving.main import create_app

    uvicorn.run(create_app(_settings()), host=host, port=port, proxy_headers=True)


@app.command("up")
def up_cmd(
    host: Annotated[str, typer.Option(help="interface the API binds")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    demo: Annotated[bool, typer.Option(help="load the demo organization")] = True,
) -> None:
    """Services + migrations + demo data + API, in the foreground until Ctrl-C."""
    from serving.core.migrate import upgrade

    settings = _settings()
    with console.status("Starting PostgreSQL and Typesense…"):
        runtime = services.start_all(settings)
    _print_runtime(runtime)
    with console.status("Migrating the database…"):
        upgrade(settings.owner_database_url)
    if demo:
        _seed_demo(settings, seed=42, prospects=500)
    processes = [api_process(settings, host, port)]
    table = Table(title="AIRevenueOrc is running")
    table.add_column("what")
    table.add_column("where")
    for process in processes:
        table.add_row(process.name, process.url or "")
    table.add_row("API docs", f"http://{host}:{port}/docs")
    console.print(table)
    console.print("Press Ctrl-C to stop everything.")
    code = run_supervised(processes, settings, console)
    stopped = services.stop_all(settings)
    console.print(f"Stopped: {', '.join(['api', *stopped])}")
    raise typer.Exit(code)


def _print_runtime(runtime: services.Runtime) -> None:
    table = Table(title="Services")
    table.add_column("service")
    table.add_column("address")
    table.add_row("PostgreSQL", (runtime.database_url or "").replace("postgresql+psycopg://", "postgresql://"))
    if runtime.typesense_url:
        table.add_row("Typesense", runtime.typesense_url)
    console.print(table)


if __name__ == "__main__":
    app()
