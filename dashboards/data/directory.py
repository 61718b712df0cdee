"""Teams and people of the signed-in organization, for filters and labels."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

TEAMS = """
select team_id, team_name from analytics.stg_app__teams where organization_id = :org order by team_name
"""

USERS = """
select u.user_id, coalesce(u.full_name, u.email) as user_name, u.email, u.role, u.team_id, t.team_name
from analytics.stg_app__users as u
left join analytics.stg_app__teams as t on t.team_id = u.team_id
where u.organization_id = :org
order by user_name
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def teams(org: str) -> pd.DataFrame:
    return read_frame(TEAMS, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def users(org: str) -> pd.DataFrame:
    return read_frame(USERS, org)
