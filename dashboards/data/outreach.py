"""Outreach analytics from the e-mail marts: template and cadence funnels, send-time heatmap, channels, A/B."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, existing_relations, read_frame

# Names of templates and cadences; marts built before these existed leave the funnels named by short ids.
NAME_MARTS = {"template": "analytics.dim_email_templates", "cadence": "analytics.dim_cadences"}

BY_DIMENSION = """
select dimension_id, sum(sent) as sent, sum(delivered) as delivered, sum(opened) as opened, sum(clicked) as clicked,
    sum(replied) as replied, sum(bounced) as bounced, sum(unsubscribed) as unsubscribed
from analytics.agg_email_engagement_daily
where organization_id = :org and dimension = :dimension and event_date between :date_from and :date_to
group by dimension_id
order by sum(sent) desc, dimension_id
"""

TEMPLATE_NAMES = """
select template_id as dimension_id, template_name as name
from analytics.dim_email_templates
where organization_id = :org
"""
CADENCE_NAMES = """
select cadence_id as dimension_id, cadence_name as name
from analytics.dim_cadences
where organization_id = :org
"""

# Sends by weekday × hour (UTC) of the `processed` event, and how many of them were opened / replied to.
SEND_TIMES = """
select weekday, hour, sum(sent) as sent, sum(opened) as opened, sum(replied) as replied
from analytics.agg_email_send_times
where organization_id = :org and sent_date between :date_from and :date_to
group by weekday, hour
order by weekday, hour
"""

CHANNELS = """
select sum(calls) as calls, sum(emails_sent) as emails, sum(linkedin_touches) as linkedin, sum(sms_sent) as sms,
    sum(meetings) as meetings
from analytics.agg_activity_daily
where organization_id = :org and activity_date between :date_from and :date_to
"""

EMAIL_FUNNEL = """
select sum(delivered) as delivered, sum(replied) as replied, sum(opened) as opened
from analytics.agg_email_engagement_daily
where organization_id = :org and dimension = 'prospect' and event_date between :date_from and :date_to
"""

WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("sent", "delivered", "opened", "clicked", "replied", "bounced", "unsubscribed"):
        if column in out:
            out[column] = out[column].astype(int)
    delivered = out["delivered"].where(out["delivered"] > 0)
    out["open_rate"] = out["opened"] / delivered
    out["click_rate"] = out["clicked"] / delivered
    out["reply_rate"] = out["replied"] / delivered
    out["bounce_rate"] = out["bounced"] / out["sent"].where(out["sent"] > 0)
    return out


@st.cache_data(ttl=TTL, show_spinner=False)
def performance(org: str, dimension: str, date_from: date, date_to: date) -> pd.DataFrame:
    """Funnel counts and rates per template or cadence, named when their marts exist."""
    frame = read_frame(BY_DIMENSION, org, {"dimension": dimension, "date_from": date_from, "date_to": date_to})
    if frame.empty:
        return frame
    frame = with_rates(frame)
    frame["dimension_id"] = frame["dimension_id"].astype(str)
    names = pd.DataFrame(columns=["dimension_id", "name"])
    if NAME_MARTS[dimension] in existing_relations(org, (NAME_MARTS[dimension],)):
        names = read_frame(TEMPLATE_NAMES if dimension == "template" else CADENCE_NAMES, org)
        names["dimension_id"] = names["dimension_id"].astype(str)
    frame = frame.merge(names, on="dimension_id", how="left")
    short = frame["dimension_id"].str[:8]  # unnamed: a short id, unless two share it
    frame["name"] = frame["name"].fillna(short.where(~short.duplicated(keep=False), frame["dimension_id"]))
    return frame[["name", "dimension_id", *[c for c in frame.columns if c not in ("name", "dimension_id")]]]


@st.cache_data(ttl=TTL, show_spinner=False)
def send_times(org: str, date_from: date, date_to: date) -> pd.DataFrame:
    frame = read_frame(SEND_TIMES, org, {"date_from": date_from, "date_to": date_to})
    if frame.empty:
        return frame
    frame["weekday_name"] = frame["weekday"].map(WEEKDAYS)
    frame["open_rate"] = frame["opened"] / frame["sent"]
    frame["reply_rate"] = frame["replied"] / frame["sent"]
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def channels(org: str, date_from: date, date_to: date) -> pd.DataFrame:
    """Touches per channel, with e-mail's measured response rates (other channels log no responses)."""
    params = {"date_from": date_from, "date_to": date_to}
    touches = read_frame(CHANNELS, org, params).iloc[0]
    funnel = read_frame(EMAIL_FUNNEL, org, params).iloc[0]
    delivered = float(funnel["delivered"] or 0)
    rows = [
        {"channel": "Email", "touches": int(touches["emails"] or 0), "responses": int(funnel["replied"] or 0),
         "response_rate": float(funnel["replied"] or 0) / delivered if delivered else None},
        {"channel": "Calls", "touches": int(touches["calls"] or 0), "responses": None, "response_rate": None},
        {"channel": "LinkedIn", "touches": int(touches["linkedin"] or 0), "responses": None, "response_rate": None},
        {"channel": "SMS", "touches": int(touches["sms"] or 0), "responses": None, "response_rate": None},
    ]
    return pd.DataFrame(rows)
