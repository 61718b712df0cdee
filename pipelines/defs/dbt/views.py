"""Which views an hourly dbt build can leave out, and the record of the views a build left current.

A view stores no data: it reads its tables when it is queried, so new rows never call for rebuilding one. A build
must recreate a view only when its definition would change, and dbt recreating a view or a table drops what was
built on it (`drop … cascade` of the replaced relation), so a view is left out of the hourly build only when:
- a build of this project recorded it, in this very database, with the same fingerprint (its SQL, config, the
  project's macros and dbt's version);
- it exists in the database;
- its SQL does not read a variable or the environment (`as_of_date()` bakes the as-of date into the view);
- nothing it selects from is replaced in this build (a view being rebuilt, a table model, a changed seed).
The record lives beside dbt's artifacts, one file per database (cluster identifier, name and oid, so a dropped
and recreated database of the same name starts with none): no record, no view left out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import psycopg

_VOLATILE = ("var(", "env_var(")


def fingerprints(manifest: dict[str, Any]) -> dict[str, str]:
    """unique_id → fingerprint of every view model and seed of the project."""
    project = manifest["metadata"].get("project_name")
    macros = sorted((uid, m["macro_sql"]) for uid, m in manifest["macros"].items()
                    if m.get("package_name") == project)
    shared = hashlib.sha256(json.dumps([manifest["metadata"].get("dbt_version"), macros]).encode()).hexdigest()
    out: dict[str, str] = {}
    for uid, node in manifest["nodes"].items():
        if not (_is_view(node) or node["resource_type"] == "seed"):
            continue
        out[uid] = hashlib.sha256(json.dumps(
            [shared, node["checksum"], node["config"], node["relation_name"], node["depends_on"].get("nodes", [])],
            sort_keys=True, default=str).encode()).hexdigest()
    return out


def _is_view(node: dict[str, Any]) -> bool:
    return node["resource_type"] == "model" and node["config"].get("materialized") == "view"


def _reads_variables(node: dict[str, Any], macros: dict[str, Any]) -> bool:
    """The node's SQL, or a macro it calls (transitively), reads a dbt variable or the environment."""
    if any(v in node["raw_code"] for v in _VOLATILE):
        return True
    seen: set[str] = set()
    todo = list(node["depends_on"].get("macros", []))
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in macros:
            continue
        seen.add(uid)
        if any(v in macros[uid]["macro_sql"] for v in _VOLATILE):
            return True
        todo.extend(macros[uid]["depends_on"].get("macros", []))
    return False


def views_to_leave_out(manifest: dict[str, Any], *, recorded: dict[str, str], existing: set[str]) -> list[str]:
    """Names of the views an incremental build can skip (see the module docstring), given the fingerprints a
    previous build recorded for this database and the relation names (`"db"."schema"."name"`) it holds."""
    current = fingerprints(manifest)
    nodes = manifest["nodes"]
    replaced: set[str] = set()  # what this build recreates (its dependants are dropped with the old one)
    skipped: list[str] = []
    for uid in _in_dependency_order(nodes):
        node = nodes[uid]
        kind = node["resource_type"]
        if kind == "seed":
            if recorded.get(uid) != current[uid]:
                replaced.add(uid)  # a changed seed may be dropped and recreated
            continue
        if kind != "model":
            continue
        if not _is_view(node):
            if node["config"].get("materialized") == "table":
                replaced.add(uid)
            continue
        keep = (recorded.get(uid) == current[uid] and node["relation_name"] in existing
                and not _reads_variables(node, manifest["macros"])
                and not replaced.intersection(node["depends_on"].get("nodes", [])))
        if keep:
            skipped.append(node["name"])
        else:
            replaced.add(uid)
    return sorted(skipped)


def _in_dependency_order(nodes: dict[str, Any]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(uid: str) -> None:
        stack = [(uid, iter(nodes[uid]["depends_on"].get("nodes", [])))]
        state[uid] = 1
        while stack:
            current, parents = stack[-1]
            for parent in parents:
                if parent in nodes and parent not in state:
                    state[parent] = 1
                    stack.append((parent, iter(nodes[parent]["depends_on"].get("nodes", []))))
                    break
            else:
                stack.pop()
                order.append(current)

    for uid in sorted(nodes):
        if uid not in state:
            visit(uid)
    return order


def recorded_after(manifest: dict[str, Any], run_results: dict[str, Any], *, before: dict[str, str]) -> dict[str, str]:
    """The record after a build: the views and seeds it built successfully, and those it did not run (left out,
    or outside its selection: a freshness run) that were recorded with the fingerprint they still have; what it
    ran and failed is forgotten. (A view dropped by the build with a relation under it is caught as missing.)"""
    current = fingerprints(manifest)
    ran = {r["unique_id"]: r["status"] for r in run_results["results"]}
    return {uid: fp for uid, fp in current.items()
            if ran.get(uid) == "success" or (uid not in ran and before.get(uid) == fp)}


def database_key(conn: psycopg.Connection) -> str:
    system, name, oid = conn.execute(
        "select (select system_identifier from pg_control_system()), d.datname, d.oid"
        " from pg_database as d where d.datname = current_database()").fetchone()
    return hashlib.sha256(f"{system}/{name}/{oid}".encode()).hexdigest()[:24]


def existing_relations(conn: psycopg.Connection) -> set[str]:
    """Every view and table, as dbt names relations (`"db"."schema"."name"`)."""
    rows = conn.execute(
        "select current_database(), n.nspname, c.relname from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace where c.relkind in ('v', 'r', 'p', 'm')").fetchall()
    return {".".join(f'"{part}"' for part in row) for row in rows}


def record_path(folder: Path, key: str) -> Path:
    return folder / "built_views" / f"{key}.json"


def load_record(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save_record(path: Path, record: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, sort_keys=True))
    temporary.replace(path)  # atomic: a crash leaves the old record or the new, never half of one


class ViewRecord:
    """One database's record of built views, kept under `folder` (dbt's target folder): what a build may leave
    out, and the record's update from that build's artifacts."""

    def __init__(self, conn: psycopg.Connection, folder: Path) -> None:
        self.path = record_path(folder, database_key(conn))
        self.before = load_record(self.path)
        self.existing = existing_relations(conn)
        self.left_out: list[str] = []

    def leave_out(self, manifest: dict[str, Any]) -> list[str]:
        self.left_out = views_to_leave_out(manifest, recorded=self.before, existing=self.existing)
        return self.left_out

    def update(self, manifest: dict[str, Any], run_results: dict[str, Any]) -> None:
        save_record(self.path, recorded_after(manifest, run_results, before=self.before))
