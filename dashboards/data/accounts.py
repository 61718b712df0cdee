"""An account's health and its components (`dim_account_health`): what the Accounts page shows next to the API's
record."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

HEALTH = """
select health_score, health_tier, open_deals, open_pipeline_amount, avg_deal_risk, intent_score,
       engagement_score, last_touch_at
from analytics.dim_account_health
where organization_id = :org and account_id = cast(:account as uuid)
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def health(org: str, account_id: str) -> pd.DataFrame:
    return read_frame(HEALTH, org, {"account": account_id})
