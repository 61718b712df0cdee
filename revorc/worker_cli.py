"""`revorc worker`: the job queue worker (sends email, runs cadence steps, bulk jobs)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from revorc.processes import Process
from serving.core.config import Settings, get_settings


def worker_process(settings: Settings) -> Process:
    """For `revorc up`: the worker as a supervised child process."""
    return Process(name="worker", args=[sys.executable, "-m", "revorc.worker_cli"])


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_cmd(
        concurrency: Annotated[int | None, typer.Option(help="jobs run in parallel")] = None,
        once: Annotated[bool, typer.Option(help="run the jobs waiting now, then exit")] = False,
    ) -> None:
        """Run the worker: email delivery, cadence steps, bulk jobs, periodic sweeps."""
        _run(get_settings(), concurrency=concurrency, once=once)


def _run(settings: Settings, *, concurrency: int | None = None, once: bool = False) -> None:
    import logging

    from serving.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker(settings, concurrency=concurrency, wait=not once)


if __name__ == "__main__":
    _run(get_settings())
