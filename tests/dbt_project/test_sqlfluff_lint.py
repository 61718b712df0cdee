"""sqlfluff passes on the dbt project with the house rules in pyproject.toml (`make lint` runs the same command,
but CI runs only `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("dbt_project/models", "dbt_project/macros")


def test_dbt_sql_passes_sqlfluff():
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    done = subprocess.run([str(sqlfluff), "lint", *PATHS, "--format", "json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    files = json.loads(done.stdout)
    violations = [f"{f['filepath']}:{v['start_line_no']} {v['code']} {v['description']}"
                  for f in files for v in f["violations"]]
    # exit 1 = violations, 2 = a file that does not template or parse (an unknown macro, say)
    assert (done.returncode, violations) == (0, []), done.stderr[-2000:]
    expected = {str(p.relative_to(ROOT)) for folder in PATHS for p in (ROOT / folder).rglob("*.sql")}
    assert {f["filepath"] for f in files} == expected  # every SQL file was linted
