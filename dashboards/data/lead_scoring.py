"""Lead scoring: champion model card, score distribution and drift, per-prospect explanations.

The ML tables (`app.ml_models`, `app.lead_score_history`, `app.ai_predictions`) come with the lead-scoring
module; until they exist every function here reports "not available" and the page shows an empty state.
This module is the one place to adapt when their shape settles (or when marts over them are added).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, DataUnavailable, existing_relations, read_frame

MODELS, HISTORY, PREDICTIONS = "app.ml_models", "app.lead_score_history", "app.ai_predictions"

MODEL_ROWS = "select to_jsonb(m) as model from app.ml_models as m"

SCORE_HISTORY = """
select score_date, width_bucket(score, 0, 100, 10) as bucket, count(*) as prospects, avg(score) as avg_score
from app.lead_score_history
where organization_id = :org and score_date > current_date - :days
group by 1, 2
order by 1, 2
"""

EXPLANATIONS = """
select pr.created_at, pr.model_version, pr.score, pr.top_factors
from app.ai_predictions as pr
join app.prospects as p on p.id = pr.prospect_id
where pr.organization_id = :org and p.organization_id = :org and lower(p.email) = lower(:email)
order by pr.created_at desc
limit 5
"""


@dataclass
class ModelCardView:
    version: str | None
    family: str | None
    created_at: str | None
    metrics: dict[str, Any]
    rows: dict[str, Any] = field(default_factory=dict)
    data_window: dict[str, Any] | None = None
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    deciles: pd.DataFrame = field(default_factory=pd.DataFrame)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def champion_from_rows(rows: list[dict[str, Any]]) -> ModelCardView | None:
    """The champion among registry rows (`is_champion`, or `status`/`stage` = champion), read from its card."""
    def is_champion(row: dict[str, Any]) -> bool:
        return bool(row.get("is_champion")) or "champion" in (str(row.get("status")), str(row.get("stage")))

    champions = [r for r in rows if is_champion(r)]
    if not champions:
        return None
    row = max(champions, key=lambda r: str(r.get("promoted_at") or r.get("created_at") or ""))
    card = _as_dict(row.get("card") or row.get("model_card"))
    metrics = _as_dict(card.get("metrics") or row.get("metrics"))
    return ModelCardView(
        version=str(row.get("version") or card.get("version") or "") or None,
        family=card.get("family") or row.get("family"),
        created_at=str(card.get("created_at") or row.get("created_at") or "") or None,
        metrics={k: v for k, v in metrics.items() if not isinstance(v, list | dict)},
        rows=_as_dict(card.get("rows")),
        data_window=_as_dict(card.get("data_window")) or None,
        calibration=pd.DataFrame(metrics.get("calibration") or []),
        deciles=pd.DataFrame(metrics.get("deciles") or []),
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def available(org: str) -> set[str]:
    return existing_relations(org, (MODELS, HISTORY, PREDICTIONS))


@st.cache_data(ttl=TTL, show_spinner=False)
def champion(org: str) -> ModelCardView | None:
    if MODELS not in available(org):
        return None
    return champion_from_rows([_as_dict(v) for v in read_frame(MODEL_ROWS, org)["model"]])


@st.cache_data(ttl=TTL, show_spinner=False)
def score_history(org: str, days: int = 60) -> pd.DataFrame | None:
    """Prospects per score decile per day (None when the history table is missing or has another shape)."""
    if HISTORY not in available(org):
        return None
    try:
        return read_frame(SCORE_HISTORY, org, {"days": days})
    except DataUnavailable:
        return None


@st.cache_data(ttl=TTL, show_spinner=False)
def explanations(org: str, email: str) -> pd.DataFrame | None:
    if PREDICTIONS not in available(org):
        return None
    try:
        return read_frame(EXPLANATIONS, org, {"email": email.strip()})
    except DataUnavailable:
        return None
