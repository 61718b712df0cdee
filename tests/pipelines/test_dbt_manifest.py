"""Loading the Dagster code location reads the dbt manifest and never runs dbt; `revorc prepare-dbt` writes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every way Python starts a process raises an audit event; the probe refuses any that runs dbt, so a dbt parse
# hidden in an import shows up here instead of running (other processes, like platform's `file -b`, may start).
PROBE = """
import json, sys
spawned = []
def refuse(event, args):
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "os.system") and "dbt" in str(args[:2]):
        spawned.append(f"{event} {str(args[:2])[:200]}")
        raise RuntimeError("dbt started while loading the Definitions: " + event)
sys.addaudithook(refuse)
error = None
try:
    from pipelines.definitions import defs
    defs.resolve_asset_graph()
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"spawned": spawned, "error": error}))
"""


def _load_definitions(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_IS_DEV_CLI", "DBT_TARGET_PATH")} | env
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_a_manifest_loading_is_a_clear_error_and_starts_no_dbt(tmp_path):
    target = tmp_path / "target"
    loaded = _load_definitions(DBT_TARGET_PATH=str(target))
    assert loaded["spawned"] == []
    assert loaded["error"].startswith("ManifestMissing: dbt manifest not found at "), loaded["error"]
    assert "revorc prepare-dbt" in loaded["error"]
    assert not (target / "manifest.json").exists()


def test_the_explicit_step_prepares_it_and_then_loading_starts_no_dbt(tmp_path):
    target = tmp_path / "target"
    environ = {k: v for k, v in os.environ.items() if k != "DAGSTER_IS_DEV_CLI"} | {"DBT_TARGET_PATH": str(target)}
    revorc = Path(sys.executable).parent / "revorc"
    subprocess.run([str(revorc), "prepare-dbt"], cwd=ROOT, env=environ, check=True, capture_output=True, timeout=300)
    manifest = json.loads((target / "manifest.json").read_text())
    assert "model.revorc.fct_deal_health" in manifest["nodes"]

    loaded = _load_definitions(DBT_TARGET_PATH=str(target))
    assert loaded == {"spawned": [], "error": None}
