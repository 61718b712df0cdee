"""The dbt project as Dagster sees it, the environment dbt needs to reach the database, and the explicit step
that prepares its manifest (Definitions only read it: loading the code location never runs dbt)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock
from sqlalchemy.engine import make_url

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
# What the hourly build leaves out: the data tests tagged `nightly` (full scans of the largest tables) and the unit
# tests (fixed inputs: they check the SQL, not the data, so CI and the nightly full rebuild run them; dbt's own
# advice for production builds). The nightly full rebuild and every other build run everything.
NIGHTLY_TESTS = "tag:nightly"
HOURLY_BUILD_EXCLUDES = ("--exclude", NIGHTLY_TESTS, "--exclude-resource-type", "unit_test")


def hourly_build_args(views_left_out: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The hourly build's exclusions, with the views it can leave out (`views.py`): one `--exclude`, so dbt and
    dagster-dbt read every name the same way."""
    return ["--exclude", NIGHTLY_TESTS, *views_left_out, *HOURLY_BUILD_EXCLUDES[2:]]


def dbt_env(database_url: str) -> dict[str, str]:
    """REVORC_PG_* for `profiles.yml`, from a DATABASE_URL (a unix-socket `?host=/dir` becomes the host)."""
    url = make_url(database_url)  # either form: only the parts are used
    host = url.query.get("host") or url.host or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    return {
        "REVORC_PG_HOST": str(host),
        "REVORC_PG_PORT": str(url.port or 5432),
        "REVORC_PG_USER": url.username or "postgres",
        "REVORC_PG_PASSWORD": url.password or "",
        "REVORC_PG_DBNAME": url.database or "revorc",
    }


def export_dbt_env(database_url: str) -> None:
    os.environ.update(dbt_env(database_url))


# DBT_TARGET_PATH is dbt's own variable (and the parent of dagster-dbt's per-run target folders), so a deployment
# with a read-only source tree, or a test, can put the manifest elsewhere and every tool agrees on where it is.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                         target_path=os.environ.get("DBT_TARGET_PATH") or "target")

PREPARE_HINT = "`revorc prepare-dbt` (run by `revorc up`, `revorc materialize` and the test session)"


class ManifestMissing(RuntimeError):
    """The code location was loaded before the explicit step that writes the dbt manifest."""


def dbt_executable() -> str:
    """The `dbt` next to this interpreter (the venv's bin is often not on PATH), else whatever PATH has."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def dbt_resource():
    from dagster_dbt import DbtCliResource

    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


def _newest_source_mtime() -> float:
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml", DBT_PROJECT_DIR / "selectors.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        paths.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime()


def prepare_manifest(*, force: bool = False) -> Path:
    """`dbt parse` into the manifest when it is missing or older than the project — the explicit step before
    anything loads the Definitions. A file lock lets parallel test workers or CLI runs share one parse."""
    manifest = dbt_project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(manifest.with_suffix(".prepare-lock")):
        if force or manifest_is_stale():
            dbt_resource().cli(["parse", "--quiet"], target_path=manifest.parent).wait()
    return manifest


def require_manifest() -> Path:
    """The manifest the Definitions read; a clear error (never a dbt run) when nobody prepared it."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        raise ManifestMissing(f"dbt manifest not found at {manifest}: prepare it with {PREPARE_HINT}, or "
                              f"`dagster-dbt project prepare-and-package --file pipelines/defs/dbt/project.py`.")
    return manifest
