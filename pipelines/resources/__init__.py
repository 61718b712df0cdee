"""Resources: the Postgres owner connection, the landing zone and DuckDB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import psycopg
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.orm import Session

from pipelines.ingest.landing import Landing
from serving.core.db import engine_for, libpq_url, sqlalchemy_url


def _settings():
    from serving.core.config import Settings

    return Settings()


def default_database_url():
    """The owner URL from settings; when none is configured yet, resolve DATABASE_URL at run time."""
    from dagster import EnvVar

    try:
        return _settings().owner_database_url
    except RuntimeError:
        return EnvVar("DATABASE_URL")


def default_landing_url() -> str:
    return os.environ.get("REVORC_LANDING_URL") or str(_settings().home / "landing")


class PostgresResource(ConfigurableResource):
    """The owner connection (row-level security does not apply): ingest, reverse-ETL and dbt use it."""

    database_url: str = Field(description="SQLAlchemy or libpq URL of the owner connection")

    @contextmanager
    def connect(self, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
        with psycopg.connect(libpq_url(self.database_url), autocommit=autocommit) as conn:
            yield conn

    def session(self, *, pool: str = "pipelines", pool_size: int = 4) -> Session:
        """An ORM session on the owner connection (lead scoring, outbox publishing), from a pooled engine."""
        return Session(engine_for(sqlalchemy_url(self.database_url), pool_size, pool), expire_on_commit=False)


def default_typesense() -> tuple[str | None, str | None, str]:
    """The Typesense URL, admin key and collection prefix from settings (REVORC_HOME's runtime file or env)."""
    settings = _settings()
    url, key = settings.typesense or (None, None)
    return url, key, settings.search_collection_prefix


class TypesenseResource(ConfigurableResource):
    """The search engine the reindex writes to, with the admin key (searches use scoped keys, never this one)."""

    url: str | None = Field(default=None, description="Typesense URL; empty = search is not configured")
    api_key: str | None = Field(default=None, description="Typesense admin API key")
    prefix: str = Field(default="revorc", description="collection and alias prefix (SEARCH_COLLECTION_PREFIX)")

    def index(self):
        from serving.search.engine import SearchIndex, SearchUnavailable

        if not self.url or not self.api_key:
            raise SearchUnavailable("search is not configured: set TYPESENSE_URL and TYPESENSE_API_KEY "
                                    "(`revorc up` starts an embedded Typesense)")
        return SearchIndex(url=self.url, admin_key=self.api_key, prefix=self.prefix, timeout=30)


class LandingZoneResource(ConfigurableResource):
    """Where provider files land: a local folder or any fsspec URL (`s3://bucket/landing`)."""

    url: str = Field(description="local path or fsspec URL of the landing zone")

    def landing(self) -> Landing:
        return Landing(self.url)


class DuckDBResource(ConfigurableResource):
    """An in-process DuckDB for reading and reshaping files before they are copied into Postgres."""

    database: str = Field(default=":memory:")
    threads: int = Field(default=2)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(self.database, config={"threads": self.threads})
        try:
            yield con
        finally:
            con.close()
