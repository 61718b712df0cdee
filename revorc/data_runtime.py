"""The Dagster webserver (:3000), daemon and freshness loop, with DAGSTER_HOME inside REVORC_HOME."""

from __future__ import annotations

import sys
from pathlib import Path

from revorc.processes import Process
from serving.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DAGSTER_YAML = """# written by revorc: local run/event storage in this folder; runs are queued for the daemon
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
"""


def dagster_home(settings: Settings) -> Path:
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def initialize_instance() -> None:
    """Create the instance's storage (DAGSTER_HOME must be set) before several processes open it."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    instance.get_runs(limit=1)
    instance.event_log_storage.get_asset_records()
    instance.schedule_storage.all_instigator_state()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def dagster_processes(settings: Settings, *, host: str = "127.0.0.1", port: int = 3000) -> list[Process]:
    env = {"DAGSTER_HOME": str(dagster_home(settings)), "REVORC_LANDING_URL": str(settings.home / "landing")}
    workspace = str(ROOT / "workspace.yaml")
    return [
        Process(name="dagster-webserver", url=f"http://{host}:{port}", env=env,
                args=[_bin("dagster-webserver"), "-w", workspace, "-h", host, "-p", str(port)]),
        Process(name="dagster-daemon", env=env, args=[_bin("dagster-daemon"), "run", "-w", workspace]),
        # The freshness sensor and its micro-batches in one long-lived process (docs/data_platform.md): the
        # daemon would start a process per run, whose import alone costs ~12 s of the 60 s freshness budget.
        Process(name="dagster-freshness", env=env, args=[sys.executable, "-m", "pipelines.defs.freshness.loop"]),
    ]
