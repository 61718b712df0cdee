"""`revorc worker`: the job queue worker (sends email, runs cadence steps, bulk jobs)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from revorc.processes import Process
from serving.core.config import Settings, get_settings


def worker_processes(settings: Settings, count: int | None = None) -> list[Process]:
    """For `revorc up` and `revorc worker --processes N`: N workers as supervised child processes. They share
    the Postgres queue (jobs and rows are claimed with SKIP LOCKED), as workers on several machines do."""
    count = count or settings.worker_processes
    return [
        Process(name="worker" if n == 0 else f"worker-{n + 1}", args=[sys.executable, "-m", "revorc.worker_cli"])
        for n in range(count)
    ]


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_cmd(
        concurrency: Annotated[int | None, typer.Option(help="jobs run in parallel")] = None,
        once: Annotated[bool, typer.Option(help="run the jobs waiting now, then exit")] = False,
        processes: Annotated[
            int | None, typer.Option(min=1, help="worker processes (default WORKER_PROCESSES: one per core, ≤ 4)")
        ] = None,
    ) -> None:
        """Run the worker: email delivery, cadence steps, bulk jobs, periodic sweeps."""
        settings = get_settings()
        count = processes or settings.worker_processes
        if once or count == 1:
            _run(settings, concurrency=concurrency, once=once)
            return
        from rich.console import Console

        from revorc.processes import run_supervised

        children = worker_processes(settings, count)
        if concurrency:
            for child in children:
                child.env["WORKER_CONCURRENCY"] = str(concurrency)
        Console().print(f"Starting {count} worker processes (logs in {settings.home / 'logs'})")
        raise typer.Exit(run_supervised(children, settings, Console()))


def _run(settings: Settings, *, concurrency: int | None = None, once: bool = False) -> None:
    import logging

    from serving.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker(settings, concurrency=concurrency, wait=not once)


if __name__ == "__main__":
    _run(get_settings())
