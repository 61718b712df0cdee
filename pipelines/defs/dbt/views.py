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

Tables (table and incremental models) and seeds are left out the same way when what they are built from has not
changed since a recorded build: a table's fingerprint adds to its definition the data version of every source it
reads (directly or through views), the as-of date when it or a view it reads bakes in a variable, and the
fingerprints of the tables and seeds it reads; and a table is rebuilt whenever something it reads is rebuilt in
the same build. A source's data version is its row count and the sum of a hash of every row's `xmin` (the
transaction that wrote that row version), read before the build: an insert or delete changes the count, and an
update writes new row versions whose `xmin` differ from the old ones', so any committed change since the recorded
build rebuilds the tables that read it; a change committed during the build is picked up by the next one (its
version was read before). Their data tests are left out with them (dbt drops the tests of an excluded model); the
nightly full build builds and tests everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from pipelines.defs.dbt.project import DBT_PROJECT_DIR

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


def table_fingerprints(manifest: dict[str, Any], *, data_versions: dict[str, str], variables: str
                       ) -> dict[str, str]:
    """unique_id → fingerprint of every table and incremental model: its definition (as a view's), the data
    version of every source it reads directly or through views (`data_versions`: source unique_id → version;
    a source missing from it counts as changed on every build), `variables` (`build_variables`) when it or a
    view it reads bakes in a variable, and the fingerprints of the tables and seeds it reads."""
    nodes, macros = manifest["nodes"], manifest["macros"]
    project = manifest["metadata"].get("project_name")
    shared = hashlib.sha256(json.dumps([manifest["metadata"].get("dbt_version"), sorted(
        (uid, m["macro_sql"]) for uid, m in macros.items() if m.get("package_name") == project)]).encode()).hexdigest()
    seeds = fingerprints(manifest)
    definitions = {uid: _definition(shared, node) for uid, node in nodes.items() if node["resource_type"] == "model"}
    out: dict[str, str] = {}
    for uid in _in_dependency_order(nodes):
        node = nodes[uid]
        if not _is_table(node):
            continue
        sources, upstream, views, dated = _inputs(nodes, macros, uid)
        out[uid] = hashlib.sha256(json.dumps([
            shared, node["checksum"], node["config"], node["relation_name"], node["depends_on"].get("nodes", []),
            sorted((view, definitions[view]) for view in views),
            sorted((source, data_versions.get(source, f"unknown {uuid4()}")) for source in sources),
            variables if dated else None,
            sorted((parent, out.get(parent) or seeds.get(parent, "")) for parent in upstream),
        ], sort_keys=True, default=str).encode()).hexdigest()
    return out


def _definition(shared: str, node: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([shared, node.get("checksum"), node.get("config"), node.get("relation_name"),
                                      node.get("depends_on", {}).get("nodes", [])],
                                     sort_keys=True, default=str).encode()).hexdigest()


def _inputs(nodes: dict[str, Any], macros: dict[str, Any], uid: str) -> tuple[set[str], set[str], set[str], bool]:
    """What a table reads: the sources, tables and seeds it reads directly or through views (or ephemeral
    models), those views, and whether it or one of them reads a variable."""
    sources: set[str] = set()
    upstream: set[str] = set()
    views: set[str] = set()
    dated = False
    todo, seen = [uid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current != uid:
            views.add(current)
        dated = dated or _reads_variables(nodes[current], macros)
        for parent in nodes[current]["depends_on"].get("nodes", []):
            if parent.startswith("source."):
                sources.add(parent)
            elif parent in nodes and (_is_table(nodes[parent]) or nodes[parent]["resource_type"] == "seed"):
                upstream.add(parent)
            elif parent in nodes:
                todo.append(parent)
    return sources, upstream, views, dated


def _is_table(node: dict[str, Any]) -> bool:
    return node["resource_type"] == "model" and node["config"].get("materialized") in ("table", "incremental")


def views_to_leave_out(manifest: dict[str, Any], *, recorded: dict[str, str], existing: set[str],
                       tables: dict[str, str] | None = None) -> list[str]:
    """Names of the views an incremental build can skip (see the module docstring), given the fingerprints a
    previous build recorded for this database and the relation names (`"db"."schema"."name"`) it holds; with
    `tables` (`table_fingerprints` now), also the tables and seeds whose inputs are unchanged."""
    current = fingerprints(manifest)
    nodes = manifest["nodes"]
    replaced: set[str] = set()  # what this build recreates (its dependants are dropped with the old one)
    rebuilt: set[str] = set()  # tables and seeds this build runs (new rows for the tables built on them)
    skipped: list[str] = []
    for uid in _in_dependency_order(nodes):
        node = nodes[uid]
        kind = node["resource_type"]
        parents = set(node["depends_on"].get("nodes", []))
        if kind == "seed":
            if recorded.get(uid) != current[uid]:
                replaced.add(uid)  # a changed seed may be dropped and recreated
            if tables is not None and recorded.get(uid) == current[uid] and node["relation_name"] in existing:
                skipped.append(node["name"])
            else:
                rebuilt.add(uid)
            continue
        if kind != "model":
            continue
        if not _is_view(node):
            # a table is a copy: a view it reads being recreated changes nothing (its definition is in the
            # fingerprint), a table or seed it reads (through views too) being rebuilt may
            if tables is not None and _is_table(node) and recorded.get(uid) == tables.get(uid) \
                    and node["relation_name"] in existing \
                    and not _inputs(nodes, manifest["macros"], uid)[1] & rebuilt:
                skipped.append(node["name"])
                continue
            rebuilt.add(uid)
            if node["config"].get("materialized") == "table":
                replaced.add(uid)
            continue
        keep = (recorded.get(uid) == current[uid] and node["relation_name"] in existing
                and not _reads_variables(node, manifest["macros"]) and not parents & replaced)
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


def recorded_after(manifest: dict[str, Any], run_results: dict[str, Any], *, before: dict[str, str],
                   tables: dict[str, str] | None = None) -> dict[str, str]:
    """The record after a build: the views, seeds and tables (with `tables`: their fingerprints as read before
    the build) it built successfully, and those it did not run (left out, or outside its selection: a
    freshness run) that were recorded with the fingerprint they still have; what it ran and failed is
    forgotten. (A view dropped by the build with a relation under it is caught as missing.)"""
    current = {**fingerprints(manifest), **(tables or {})}
    ran = {r["unique_id"]: r["status"] for r in run_results["results"]}
    return {uid: fp for uid, fp in current.items()
            if ran.get(uid) == "success" or (uid not in ran and before.get(uid) == fp)}


def data_versions(conn: psycopg.Connection, manifest: dict[str, Any], existing: set[str]) -> dict[str, str]:
    """Source unique_id → its data version (see the module docstring), for every source table that exists, in one
    query. Read by the role that builds, which row-level security does not filter (the tables' owner)."""
    # by schema and name: the manifest's relation names carry the database it was parsed against
    present = {relation.split(".", 1)[1] for relation in existing}
    sources = [(uid, f'"{source["schema"]}"."{source["identifier"]}"')
               for uid, source in sorted(manifest.get("sources", {}).items())]
    sources = [(uid, relation) for uid, relation in sources if relation in present]
    if not sources:
        return {}
    query = " union all ".join(
        f"select {i} as i, count(*)::text || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0)::text"
        f" from {relation}" for i, (_, relation) in enumerate(sources))
    return {sources[i][0]: version for i, version in conn.execute(query).fetchall()}


def build_variables(conn: psycopg.Connection, as_of: str | None) -> str:
    """What a model reading variables depends on besides its inputs: the as-of date its `as_of_date()` resolves
    to (the `as_of` var, REVORC_AS_OF, else the database's current date) and the project file's variables (the
    only other variables the platform's builds read)."""
    date = as_of or os.environ.get("REVORC_AS_OF") or conn.execute("select current_date::text").fetchone()[0]
    return f"{date}/{hashlib.sha256((DBT_PROJECT_DIR / 'dbt_project.yml').read_bytes()).hexdigest()}"


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
    """One database's record of built views, tables and seeds, kept under `folder` (dbt's target folder): what a
    build may leave out, and the record's update from that build's artifacts. Made before the build: the
    sources' data versions are read then (`as_of`: the build's `as_of` var, if it passes one)."""

    def __init__(self, conn: psycopg.Connection, folder: Path, *, manifest: dict[str, Any] | None = None,
                 as_of: str | None = None) -> None:
        self.path = record_path(folder, database_key(conn))
        self.before = load_record(self.path)
        self.existing = existing_relations(conn)
        self.left_out: list[str] = []
        self.tables: dict[str, str] | None = None
        if manifest is not None:
            self.tables = table_fingerprints(manifest, data_versions=data_versions(conn, manifest, self.existing),
                                             variables=build_variables(conn, as_of))

    def leave_out(self, manifest: dict[str, Any]) -> list[str]:
        self.left_out = views_to_leave_out(manifest, recorded=self.before, existing=self.existing,
                                           tables=self.tables)
        return self.left_out

    def update(self, manifest: dict[str, Any], run_results: dict[str, Any]) -> None:
        # the tables' fingerprints as read before the build, and only if the manifest is the one they were read
        # for (a changed project gives other fingerprints: its tables are then rebuilt next time)
        tables = self.tables if self.tables is not None and set(self.tables) == {
            uid for uid, node in manifest["nodes"].items() if _is_table(node)} else None
        save_record(self.path, recorded_after(manifest, run_results, before=self.before, tables=tables))
