"""Alembic migrations: from an empty database to heads, one step down and back up, and models == schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from serving.all_models import Base
from serving.core.migrate import alembic_config, downgrade, upgrade
from serving.prospects.models import SEARCH_WORDS


@pytest.fixture
def empty_database(pg) -> Iterator[str]:
    name = f"mig_{pg.worker}_{uuid.uuid4().hex[:8]}"
    pg._recreate(name)
    yield pg.url(name)
    pg.drop(name)


def _state(url: str) -> tuple[set[str], set[str], set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = set(conn.scalars(text("select version_num from public.alembic_version")).all()) \
                if conn.scalar(text("select to_regclass('public.alembic_version')")) else set()
            tables = set(conn.scalars(text(
                "select schemaname || '.' || tablename from pg_tables where schemaname in ('app', 'raw')"
            )).all())
            policies = set(conn.scalars(text(
                "select schemaname || '.' || tablename from pg_policies where schemaname = 'app'")).all())
    finally:
        engine.dispose()
    return versions, tables, policies


def _heads(url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def test_upgrade_from_empty_then_down_one_step_and_up_again(empty_database):
    url = empty_database
    assert _state(url) == (set(), set(), set())
    upgrade(url)
    versions, tables, policies = _state(url)
    assert versions == _heads(url)
    assert {"app.organizations", "app.users", "app.api_keys", "app.prospects", "app.deals", "app.activities",
            "app.call_logs", "app.audit_log", "app.idempotency_keys"} <= tables
    assert {"app.prospects", "app.api_keys", "app.organizations"} <= policies

    downgrade(url, "-1")
    versions_down, tables_down, _ = _state(url)
    assert versions_down and versions_down != versions
    assert tables_down <= tables

    upgrade(url)
    assert _state(url) == (versions, tables, policies)
    upgrade(url)  # a second upgrade is a no-op
    assert _state(url)[0] == versions


def test_full_downgrade_to_base_and_back(empty_database):
    url = empty_database
    upgrade(url)
    full = _state(url)
    downgrade(url, "base")
    versions, tables, policies = _state(url)
    assert (versions, tables, policies) == (set(), set(), set())
    upgrade(url)
    assert _state(url) == full


EXPRESSION_INDEXES = {"ix_prospects_search_words": f"USING gin ({SEARCH_WORDS})"}


def test_migrated_schema_matches_the_models(fresh_database):
    """Autogenerate finds nothing to do for `app`: every model change came with a migration."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        schema = getattr(obj, "schema", None) or getattr(getattr(obj, "table", None), "schema", None)
        # alembic cannot compare this expression index (it reports it removed and added whatever the spelling):
        # checked below against PostgreSQL's own definition instead
        return schema == "app" and name not in EXPRESSION_INDEXES

    engine = create_engine(fresh_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_schemas": True, "include_object": include, "compare_type": True,
                "target_metadata": Base.metadata,
            })
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
    with engine.connect() as conn:
        for name, expected in EXPRESSION_INDEXES.items():
            definition = conn.execute(text("select pg_get_indexdef(cast(:n as regclass))"),
                                      {"n": f"app.{name}"}).scalar()
            assert expected in definition, (name, definition)


def test_app_role_can_use_every_app_table(fresh_database):
    """Grants cover tables added by later migrations too (default privileges)."""
    engine = create_engine(fresh_database)
    try:
        with engine.connect() as conn:
            missing = conn.scalars(text("""
                select tablename from pg_tables where schemaname = 'app'
                  and not has_table_privilege('revorc_app', format('%I.%I', schemaname, tablename), 'select')
            """)).all()
            readonly_writes = conn.scalars(text("""
                select tablename from pg_tables where schemaname = 'app'
                  and has_table_privilege('revorc_readonly', format('%I.%I', schemaname, tablename), 'insert')
            """)).all()
    finally:
        engine.dispose()
    assert missing == []
    assert readonly_writes == []
