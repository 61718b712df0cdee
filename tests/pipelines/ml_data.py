"""Test data for the `ml` group: a stand-in `analytics.ml_lead_features` built from the planted-signal generator,
with real prospects behind every row, so the `ml` group can be materialized without a dbt build."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import pandas as pd
import psycopg

from models.lead_scoring.synthetic import make_feature_frame
from pipelines.ingest.ledger import psycopg_conninfo

MART_COLUMNS = {
    "feature_row_id": "text primary key", "prospect_id": "uuid not null", "organization_id": "uuid not null",
    "snapshot_date": "date not null", "title_seniority": "text", "department": "text", "industry": "text",
    "employee_band": "text", "revenue_band": "text", "emails_sent": "integer", "emails_replied": "integer",
    "emails_opened": "integer", "emails_clicked": "integer", "meetings_held": "integer",
    "web_sessions": "integer", "days_since_last_engagement": "integer", "intent_score": "integer",
    "intent_tier": "text", "intent_trend": "text", "intent_spike": "boolean", "technology_count": "integer",
    "converted": "boolean not null", "label_complete": "boolean",
}


def planted_feature_mart(*, database: str, organization_id: uuid.UUID, team_id: uuid.UUID, owner_id: uuid.UUID,
                         n_prospects: int, n_snapshots: int = 8, seed: int = 3, spacing_days: int = 30,
                         initial_priority: int | None = None) -> pd.DataFrame:
    """Create prospects for the organization and their weekly-style feature rows (the last snapshot is today
    and unlabelled, like the mart's); returns the frame that was loaded."""
    start = date.today() - timedelta(days=spacing_days * (n_snapshots - 1))
    frame = make_feature_frame(n_prospects=n_prospects, n_snapshots=n_snapshots, seed=seed, start=start,
                               spacing_days=spacing_days, n_organizations=1)
    ids = {pid: uuid.uuid4() for pid in frame["prospect_id"].unique()}
    titles = frame.drop_duplicates("prospect_id").set_index("prospect_id")["title"]
    frame["prospect_id"] = frame["prospect_id"].map(ids)
    frame["organization_id"] = organization_id
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    frame["label_complete"] = frame["snapshot_date"] < date.today()
    frame["feature_row_id"] = frame["prospect_id"].astype(str) + "/" + frame["snapshot_date"].astype(str)
    frame["intent_spike"] = frame["intent_spike"].astype(bool)
    frame["converted"] = frame["converted"].astype(bool)
    for column in ("emails_sent", "emails_replied", "emails_opened", "emails_clicked", "meetings_held",
                   "web_sessions", "days_since_last_engagement", "intent_score", "technology_count"):
        frame[column] = frame[column].astype("Int64")
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("create schema if not exists analytics")
        columns = ", ".join(f"{name} {kind}" for name, kind in MART_COLUMNS.items())
        conn.execute(f"create table if not exists analytics.ml_lead_features ({columns})")
        with conn.cursor() as cursor:
            with cursor.copy("copy app.prospects (id, organization_id, team_id, owner_id, email, first_name, title,"
                             " priority_score) from stdin") as copy:
                for name, pid in ids.items():
                    copy.write_row((pid, organization_id, team_id, owner_id, f"{name}-{pid.hex[:6]}@example.com",
                                    name, titles[name], initial_priority))
            buffer = io.StringIO()
            frame[list(MART_COLUMNS)].to_csv(buffer, index=False, header=False)
            with cursor.copy(f"copy analytics.ml_lead_features ({', '.join(MART_COLUMNS)}) from stdin"
                             " with (format csv)") as copy:
                copy.write(buffer.getvalue())
    return frame


def open_rows(frame: pd.DataFrame) -> pd.DataFrame:
    latest = frame["snapshot_date"].max()
    return frame[frame["snapshot_date"] == latest]


