"""Teams and people of the signed-in organization, for filters and labels."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

TEAMS = """
select team_id, team_name from analytics.dim_teams where organization_id = :org order by team_name
"""

USERS = """
select user_id, user_name, email, role, team_id, team_name
from analytics.dim_users
where organization_id = :org
order by user_name
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def teams(org: str) -> pd.DataFrame:
    return read_frame(TEAMS, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def users(org: str) -> pd.DataFrame:
    return read_frame(USERS, org)
