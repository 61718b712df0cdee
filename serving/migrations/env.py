"""Alembic environment: URL from the platform settings, metadata from the ORM models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from serving.all_models import Base
from serving.core.config import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().owner_database_url


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    # Only the `app` schema is Alembic's; `raw` is also migrated here but `analytics` belongs to dbt.
    schema = getattr(obj, "schema", None) or getattr(getattr(obj, "table", None), "schema", None)
    return schema in ("app", "raw")


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      include_schemas=True, version_table_schema="public")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # One migration run at a time, even when several processes start together.
        connection.execute(text("select pg_advisory_lock(7262021)"))
        connection.commit()
        try:
            context.configure(
                connection=connection, target_metadata=target_metadata, include_schemas=True,
                include_object=_include_object, version_table_schema="public", compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("select pg_advisory_unlock(7262021)"))
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
