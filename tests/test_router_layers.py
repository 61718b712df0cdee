"""No router in `serving/` holds a query: routers parse, authorize, call a keyword-only service and shape the
response (STYLE.md). Checked on the syntax tree, so a query cannot hide behind a different variable name."""

from __future__ import annotations

import ast
from pathlib import Path

SERVING = Path(__file__).resolve().parents[1] / "serving"
SESSION_METHODS = {"execute", "scalar", "scalars", "add", "add_all", "delete", "get", "query", "flush", "merge",
                   "refresh", "commit", "rollback"}
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "exists", "and_", "or_"}


def _routers() -> list[Path]:
    return sorted(p for p in SERVING.rglob("*.py") if p.name == "router.py" or p.name.endswith("_router.py"))


def _session_names(tree: ast.Module) -> set[str]:
    """Parameters annotated as a database session (DbSession, Session) in the module's functions."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in [*node.args.args, *node.args.kwonlyargs]:
                if arg.annotation is not None and "Session" in ast.unparse(arg.annotation):
                    names.add(arg.arg)
    return names


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    sessions = _session_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            builders = {alias.name for alias in node.names} & SQL_BUILDERS
            if builders:
                found.append(f"{path.name}:{node.lineno} imports {sorted(builders)} from {node.module}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in sessions
                and node.func.attr in SESSION_METHODS):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]}")
    return found


def test_the_scan_finds_queries():
    sample = SERVING.parent / "tests" / "_router_sample.py"
    sample.write_text("from sqlalchemy import select\n"
                      "def handler(db: DbSession):\n    return db.scalars(select(X)).all()\n")
    try:
        assert len(offences(sample)) == 2
    finally:
        sample.unlink()


def test_no_router_holds_a_query():
    routers = _routers()
    assert len(routers) >= 12
    found = {str(p.relative_to(SERVING)): offences(p) for p in routers}
    assert {k: v for k, v in found.items() if v} == {}
