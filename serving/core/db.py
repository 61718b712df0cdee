"""Database engines, the declarative base and tenant-scoped sessions.

Every tenant-scoped transaction sets `app.organization_id`; row-level security policies on the
`app` tables compare each row's `organization_id` with it, so a query that forgets a filter still
cannot see another organization's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import DateTime, MetaData, create_engine, event, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(schema="app", naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {uuid.UUID: UUID(as_uuid=True), datetime: DateTime(timezone=True)}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class TenantMixin:
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)


def sqlalchemy_url(url: str, *, username: str | None = None) -> str:
    """The SQLAlchemy form (`postgresql+psycopg://`) of a database URL in either form, optionally as another role.

    Another role gets no password: the embedded server trusts local socket logins, and a deployment names each
    role's URL itself (APP_DATABASE_URL, READONLY_DATABASE_URL).
    """
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    if username is not None:
        # Not URL.set: it leaves a part alone when given None, and would hand this role the owner's password.
        parsed = URL.create(parsed.drivername, username=username, host=parsed.host, port=parsed.port,
                            database=parsed.database, query=parsed.query)
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The libpq form (`postgresql://`: psql, psycopg, the job queue, `revorc env`) of a database URL in either form.

    Built from the parsed parts with %-escapes only: libpq decodes no '+', so SQLAlchemy's own rendering (which
    writes a space as '+') named a socket directory `/srv/some dir` as `/srv/some+dir`.
    """
    parsed = make_url(url)
    userinfo = ""
    if parsed.username:
        userinfo = quote(parsed.username, safe="")
        if parsed.password:
            userinfo += ":" + quote(str(parsed.password), safe="")
        userinfo += "@"
    host = parsed.host or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    database = quote(parsed.database or "", safe="")
    query = urlencode(dict(parsed.query), doseq=True, quote_via=quote)
    return f"postgresql://{userinfo}{host}{port}/{database}" + (f"?{query}" if query else "")


@lru_cache(maxsize=16)
def engine_for(url: str, pool_size: int = 10, purpose: str = "default") -> Engine:
    """One pooled engine per URL and purpose (a purpose gets a pool of its own)."""
    # The API's own pool ("api") skips the ping per checkout, which is a round trip per request; connections are
    # recycled hourly, and a dropped one invalidates the pool on its first error (see serving/main.py).
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=purpose != "api",
                         pool_recycle=3600, future=True)


@lru_cache(maxsize=16)
def session_factory(url: str, pool_size: int = 10, purpose: str = "default", *,
                    plan_limits: bool = True) -> sessionmaker[Session]:
    """`plan_limits`: whether sessions of this factory enforce the organizations' plan limits
    (`PLAN_LIMITS_ENABLED`; read by `serving.organizations.plans` from `Session.info`)."""
    return sessionmaker(bind=engine_for(url, pool_size, purpose), expire_on_commit=False, autoflush=True,
                        info={"plan_limits": plan_limits})


def set_tenant(session: Session, organization_id: uuid.UUID | str | None) -> None:
    """Bind the current transaction to one organization (cleared at commit/rollback)."""
    session.execute(
        text("select set_config('app.organization_id', :org, true)"),
        {"org": str(organization_id) if organization_id else ""},
    )
    mark_tenant(session, organization_id)


def mark_tenant(session: Session, organization_id: uuid.UUID | str | None) -> None:
    """Record the organization a database function already bound the transaction to (so later transactions of
    the session are bound again, see `_reapply_tenant`)."""
    session.info["organization_id"] = organization_id


def current_tenant(session: Session) -> uuid.UUID | None:
    return session.info.get("organization_id")


@contextmanager
def tenant_session(factory: sessionmaker[Session], organization_id: uuid.UUID | str) -> Iterator[Session]:
    """A unit of work for one organization: commits on success, rolls back on error."""
    with factory() as session, session.begin():
        set_tenant(session, organization_id)
        yield session


@event.listens_for(Session, "after_begin")
def _reapply_tenant(session: Session, transaction: Any, connection: Any) -> None:
    # set_config(..., true) lasts one transaction; a session that commits and carries on
    # (worker batches) must stay bound to its organization.
    organization_id = session.info.get("organization_id")
    if organization_id:
        connection.execute(text("select set_config('app.organization_id', :org, true)"), {"org": str(organization_id)})
