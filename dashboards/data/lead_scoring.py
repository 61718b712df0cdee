"""Lead scoring: the model registry (`dim_ml_models`), daily scores (`fct_lead_score_history`) and the prediction
log with its explanations (`fct_ai_predictions`): live marts over what the `ml` assets and the scoring API write.

Drift is the population stability index of a day's ML scores against the champion's training-window
distribution: the same function and reference the `lead_score_drift` asset check uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame
from models.lead_scoring.evaluate import histogram_sample, population_stability_index

PSI_MODERATE, PSI_LARGE = 0.1, 0.25  # the common reading: below 0.1 stable, above 0.25 a large shift
MIN_DRIFT_ROWS = 50

MODELS = """
select version, version_number, family, status, is_champion, metrics, model_card, evaluation, score_distribution,
       data_window, champion_history, trained_at, registered_at, promoted_at
from analytics.dim_ml_models
where organization_id = :org and model_name = 'lead_scoring'
order by version_number desc nulls last, registered_at desc
"""

SCORE_DISTRIBUTION = """
select score_date, least(score / 10, 9) * 10 as bucket, count(*) as prospects
from analytics.fct_lead_score_history
where organization_id = :org and score_date > current_date - :days
group by 1, 2
order by 1, 2
"""

DAILY_SCORES = """
select score_date, coalesce(ml_score, score) as score, count(*) as prospects
from analytics.fct_lead_score_history
where organization_id = :org and model_version = :version and score_date > current_date - :days
group by 1, 2
order by 1, 2
"""

EXPLANATIONS = """
select created_at, prediction_source as source, model_version, score, ml_score, tier, top_factors
from analytics.fct_ai_predictions
where organization_id = :org and prospect_email = lower(:email)
order by created_at desc
limit :limit
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
    promoted_at: str | None = None
    decision: str | None = None  # why it is champion: the last promotion's reason, else the training decision
    reference: list[int] | None = None  # training-window score histogram (0..100)
    dropped_features: dict[str, str] = field(default_factory=dict)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def champion_from_rows(rows: list[dict[str, Any]]) -> ModelCardView | None:
    """The champion among `dim_ml_models` rows, read from its model card."""
    champions = [r for r in rows if bool(r.get("is_champion"))]
    if not champions:
        return None
    row = champions[0]
    card = _as_dict(row.get("model_card"))
    metrics = _as_dict(card.get("metrics") or row.get("metrics"))
    evaluation = _as_dict(row.get("evaluation"))
    history = row.get("champion_history")
    promoted = history[-1] if isinstance(history, list) and history and isinstance(history[-1], dict) else {}
    reference = row.get("score_distribution")
    return ModelCardView(
        version=_text(row.get("version")) or _text(card.get("version")),
        family=card.get("family") or row.get("family"),
        created_at=_text(card.get("created_at")) or _text(row.get("trained_at")),
        metrics={k: v for k, v in metrics.items() if not isinstance(v, list | dict)},
        rows=_as_dict(card.get("rows")),
        data_window=_as_dict(row.get("data_window") or card.get("data_window")) or None,
        calibration=pd.DataFrame(metrics.get("calibration") or []),
        deciles=pd.DataFrame(metrics.get("deciles") or []),
        promoted_at=_text(row.get("promoted_at")),
        decision=promoted.get("reason") or _as_dict(evaluation.get("decision")).get("reason"),
        reference=list(reference) if isinstance(reference, list) and sum(reference) > 0 else None,
        dropped_features=_as_dict(_as_dict(card.get("notes")).get("dropped_features")),
    )


def versions_table(models: pd.DataFrame) -> pd.DataFrame:
    """One row per registered version with its validation metrics (the registry as a table)."""
    if models.empty:
        return pd.DataFrame(columns=["version", "family", "status", "roc_auc", "pr_auc", "brier", "top_decile_lift",
                                     "trained_at", "promoted_at"])
    metrics = models["metrics"].map(_as_dict)
    return pd.DataFrame({
        "version": models["version"], "family": models["family"], "status": models["status"],
        **{m: metrics.map(lambda d, m=m: d.get(m)) for m in ("roc_auc", "pr_auc", "brier", "top_decile_lift")},
        "trained_at": models["trained_at"], "promoted_at": models["promoted_at"],
    })


def drift_by_day(daily: pd.DataFrame, *, reference: list[int] | None) -> pd.DataFrame:
    """PSI of each day's scores (one model's: rows of score_date, score, prospects) against that model's
    training-window distribution."""
    columns = ["score_date", "psi", "prospects"]
    if daily.empty or not reference:
        return pd.DataFrame(columns=columns)
    expected = histogram_sample(reference)
    rows = []
    for day, histogram in daily.groupby("score_date", sort=True):
        prospects = int(histogram["prospects"].sum())
        if prospects >= MIN_DRIFT_ROWS:
            actual = np.repeat(histogram["score"].to_numpy(), histogram["prospects"].to_numpy().astype(int))
            rows.append((day, population_stability_index(expected=expected, actual=actual), prospects))
    return pd.DataFrame(rows, columns=columns)


def factors_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The latest prediction's top factors, one row each (what raised or lowered the score, in plain words)."""
    if predictions.empty:
        return pd.DataFrame(columns=["factor", "impact", "text"])
    factors = predictions["top_factors"].iloc[0]
    if isinstance(factors, str):
        factors = json.loads(factors)
    return pd.DataFrame([{"factor": f.get("factor"), "impact": f.get("impact"), "text": f.get("text")}
                         for f in factors or []], columns=["factor", "impact", "text"])


@st.cache_data(ttl=TTL, show_spinner=False)
def models(org: str) -> pd.DataFrame:
    return read_frame(MODELS, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def champion(org: str) -> ModelCardView | None:
    return champion_from_rows(models(org).to_dict("records"))


@st.cache_data(ttl=TTL, show_spinner=False)
def score_distribution(org: str, days: int = 60) -> pd.DataFrame:
    """Prospects per score band (0–9, 10–19, …, 90–100) per day."""
    return read_frame(SCORE_DISTRIBUTION, org, {"days": days})


@st.cache_data(ttl=TTL, show_spinner=False)
def daily_scores(org: str, version: str, days: int = 60) -> pd.DataFrame:
    """How many prospects got each score per day from one model version (a histogram, not the scores)."""
    return read_frame(DAILY_SCORES, org, {"version": version, "days": days})


@st.cache_data(ttl=TTL, show_spinner=False)
def explanations(org: str, email: str, limit: int = 5) -> pd.DataFrame:
    return read_frame(EXPLANATIONS, org, {"email": email.strip(), "limit": limit})
