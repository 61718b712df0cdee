"""Each `app` table has one writing domain: the one whose `models.py` maps it. Another domain asks that domain's
service (or reacts to its domain events); it never constructs, updates or inserts the other's rows itself."""

from __future__ import annotations

import ast
from pathlib import Path

SERVING = Path(__file__).resolve().parents[1] / "serving"
WRITES = {"update", "insert", "sql_update", "delete"}


def _owners() -> dict[str, str]:
    owners = {}
    for path in SERVING.glob("*/models.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any("Base" in ast.unparse(base) for base in node.bases):
                owners[node.name] = path.parent.name
    return owners


def foreign_writes(path: Path, owners: dict[str, str]) -> list[str]:
    domain = path.relative_to(SERVING).parts[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        model = None
        if node.func.id in owners:
            model = node.func.id  # Model(...) builds a row to add
        elif node.func.id in WRITES and node.args and isinstance(node.args[0], ast.Name):
            model = node.args[0].id if node.args[0].id in owners else None
        if model and owners[model] != domain:
            found.append(f"{path.relative_to(SERVING)}:{node.lineno} writes {model} ({owners[model]})")
    return found


def test_the_scan_sees_a_foreign_write():
    owners = {"Prospect": "prospects"}
    sample = SERVING / "emails" / "_ownership_sample.py"
    sample.write_text("def f(db):\n    db.execute(update(Prospect).values(x=1))\n    db.add(Prospect(email='a'))\n")
    try:
        assert len(foreign_writes(sample, owners)) == 2
    finally:
        sample.unlink()


def test_no_domain_writes_another_domains_table():
    owners = _owners()
    assert {"Prospect", "Activity", "CadenceEnrollment", "Task", "User"} <= set(owners)
    paths = [p for p in SERVING.glob("*/**/*.py") if "migrations" not in p.parts and p.parent != SERVING]
    assert [w for p in paths for w in foreign_writes(p, owners)] == []
