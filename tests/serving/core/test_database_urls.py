"""The one database-URL helper: libpq and SQLAlchemy forms of the same connection, read back by psycopg."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from serving.core.config import Settings
from serving.core.db import libpq_url, sqlalchemy_url

SOCKET_IN_A_SPACE = "postgresql+psycopg://revorc@/revorc?host=/srv/Application Support/pg"


def test_libpq_url_keeps_a_socket_directory_with_a_space():
    # SQLAlchemy renders a space as '+', which libpq keeps as a plus sign: the queue connected to the wrong path.
    assert conninfo_to_dict(libpq_url(SOCKET_IN_A_SPACE)) == {
        "user": "revorc", "dbname": "revorc", "host": "/srv/Application Support/pg",
    }


def test_libpq_url_reads_either_form_and_keeps_escaped_credentials():
    for url in ("postgresql+psycopg://u:p%40ss@db.internal:6432/crm?sslmode=require",
                "postgresql://u:p%40ss@db.internal:6432/crm?sslmode=require",
                "postgres://u:p%40ss@db.internal:6432/crm?sslmode=require"):
        assert conninfo_to_dict(libpq_url(url)) == {
            "user": "u", "password": "p@ss", "host": "db.internal", "port": "6432", "dbname": "crm",
            "sslmode": "require",
        }, url


def test_sqlalchemy_url_round_trips_through_libpq():
    url = sqlalchemy_url(libpq_url(SOCKET_IN_A_SPACE))
    assert url.startswith("postgresql+psycopg://")
    assert conninfo_to_dict(libpq_url(url))["host"] == "/srv/Application Support/pg"


def test_another_role_does_not_get_the_owners_password(tmp_path, monkeypatch):
    # Derived from DATABASE_URL only: the test session's own role URLs must not leak in from the environment.
    monkeypatch.delenv("APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("READONLY_DATABASE_URL", raising=False)
    settings = Settings(REVORC_ENV="test", REVORC_HOME=str(tmp_path), JWT_SECRET="x" * 40,
                        DATABASE_URL="postgresql://owner:owner-secret@db.internal:5432/revorc")
    assert settings.owner_database_url == "postgresql+psycopg://owner:owner-secret@db.internal:5432/revorc"
    for url in (settings.api_database_url, settings.dashboard_database_url):
        parts = conninfo_to_dict(libpq_url(url))
        assert "password" not in parts, url
        assert (parts["host"], parts["dbname"]) == ("db.internal", "revorc")
    assert conninfo_to_dict(libpq_url(settings.api_database_url))["user"] == "revorc_app"
    assert conninfo_to_dict(libpq_url(settings.dashboard_database_url))["user"] == "revorc_readonly"
