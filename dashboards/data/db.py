"""Read-only, tenant-bound access to the database for the dashboards.

Dashboards connect as `revorc_readonly` and bind every read transaction to the signed-in user's
organization, so the same row-level security rules as the API decide what a page can see (the
`analytics` tables carry the same policy as `app`; see `dbt_project/macros/enable_tenant_rls.sql`).
Queries still filter on `organization_id = :org` explicitly, so they use the marts' indexes.

Pages read the `analytics` marts only, never `stg_` views or `app`/`raw` tables (a test scans `dashboards/`);
data that must be current the moment an action changes it (deals, the model registry) comes from marts that are
live views. Sign-in reads no table here either: it goes through the API (`dashboards/components/session.py`).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from serving.core.config import get_settings

# How long a query's result is reused (seconds); "Refresh data" in the sidebar clears every cache.
TTL = 300
MISSING_RELATION = ("42P01", "3F000")  # undefined table, undefined schema
MISSING_COLUMN = ("42703",)


class DataUnavailable(Exception):
    """The database cannot be reached, or the marts have not been built yet."""


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    return create_engine(get_settings().dashboard_database_url, pool_size=4, max_overflow=4, pool_pre_ping=True)


def read_frame(sql: str, organization_id: uuid.UUID | str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run one read-only query for one organization and return it as a frame.

    `sql` is always a constant of a `dashboards.data` module; user input only ever arrives in `params`.
    """
    try:
        with engine().connect() as connection, connection.begin():
            connection.execute(text("set transaction read only"))
            connection.execute(text("select set_config('app.organization_id', :org, true)"),
                               {"org": str(organization_id)})
            result = connection.execute(text(sql), {**(params or {}), "org": str(organization_id)})
            return _decimals_to_float(pd.DataFrame(result.fetchall(), columns=list(result.keys())))
    except ProgrammingError as exc:
        state = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if state in MISSING_RELATION:
            raise DataUnavailable("The analytics marts have not been built yet: run `revorc materialize`.") from None
        if state in MISSING_COLUMN:
            raise DataUnavailable("The analytics marts are older than the dashboards: run `revorc materialize`.") \
                from None
        raise
    except OperationalError:
        raise DataUnavailable("The database is not reachable. Is `revorc up` running?") from None


def _decimals_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    # numeric columns arrive as Decimal objects; charts and CSVs want plain numbers
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def existing_relations(organization_id: str, names: tuple[str, ...]) -> set[str]:
    """Which of these schema-qualified relations exist (for pages over tables another module adds later)."""
    frame = read_frame("select name from unnest(cast(:names as text[])) as name where to_regclass(name) is not null",
                       organization_id, {"names": list(names)})
    return set(frame["name"])


def id_list(values) -> list[str]:
    """Bind a selection of ids as a `uuid[]` parameter (an empty list means "no filter")."""
    return [str(v) for v in (values or ())]
