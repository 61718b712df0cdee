"""Demo `ml_lead_features` frames with a planted signal, deterministic by seed (tests, demo, benchmark)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from models.lead_scoring.features import (
    DEPARTMENTS,
    EMPLOYEE_BANDS,
    INTENT_TIERS,
    INTENT_TRENDS,
    REVENUE_BANDS,
    SENIORITIES,
)

INDUSTRIES = ("software", "fintech", "healthcare", "manufacturing", "retail", "logistics", "education",
              "media")
TITLES = {
    "c_level": ("Chief Revenue Officer", "CFO", "Chief Technology Officer"),
    "vp": ("VP of Sales", "VP Marketing", "VP Engineering"),
    "director": ("Director of Marketing", "Head of Revenue Operations", "Director of IT"),
    "manager": ("Sales Development Manager", "IT Manager", "Growth Marketing Lead"),
    "individual": ("Account Executive", "Procurement Specialist", "Marketing Analyst"),
}
# How much each attribute moves the log-odds of converting (centred near zero): senior, mid-market,
# software/fintech prospects convert more often, as in most B2B funnels.
_SENIORITY_EFFECT = np.array([0.5, 0.6, 0.3, 0.0, -0.4])
_INDUSTRY_EFFECT = np.array([0.5, 0.4, 0.1, -0.1, -0.3, -0.2, -0.3, -0.1])
_EMPLOYEE_EFFECT = np.array([-0.6, -0.2, 0.3, 0.4, 0.2, 0.0])


def make_feature_frame(*, n_prospects: int, n_snapshots: int, seed: int = 0, signal_strength: float = 1.0,
                       start: date = date(2024, 1, 1), spacing_days: int = 30,
                       n_organizations: int = 3) -> pd.DataFrame:
    """One row per prospect per snapshot; `converted` depends on intent, engagement and fit.

    A latent interest per prospect (an AR(1) process over snapshots) drives engagement and intent;
    the label's log-odds are `signal_strength` × (interest + fit), so 0 gives labels unrelated to the
    features. Fully vectorised: a million rows take a few seconds.
    """
    rng = np.random.default_rng(seed)
    n, t = n_prospects, n_snapshots

    seniority = rng.choice(len(SENIORITIES), size=n, p=[0.08, 0.12, 0.2, 0.3, 0.3])
    department = rng.choice(len(DEPARTMENTS), size=n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
    industry = rng.integers(len(INDUSTRIES), size=n)
    employee = rng.choice(len(EMPLOYEE_BANDS), size=n, p=[0.1, 0.2, 0.25, 0.25, 0.12, 0.08])
    revenue = np.clip(employee + rng.integers(-1, 2, size=n), 0, len(REVENUE_BANDS) - 1)
    fit = _SENIORITY_EFFECT[seniority] + _INDUSTRY_EFFECT[industry] + _EMPLOYEE_EFFECT[employee]
    tech_count = rng.poisson(4 + 3 * employee).astype(float)
    tech_count[rng.random(n) < 0.3] = np.nan
    title_pick = rng.integers(3, size=n)
    all_titles = np.array([TITLES[s][i] for s in SENIORITIES for i in range(3)], dtype=object)
    titles = all_titles[seniority * 3 + title_pick]

    # latent interest: AR(1) across snapshots, shape (t, n)
    interest = np.empty((t, n))
    interest[0] = rng.normal(size=n)
    for k in range(1, t):
        interest[k] = 0.7 * interest[k - 1] + np.sqrt(1 - 0.49) * rng.normal(size=n)

    sent = rng.poisson(3.0, size=(t, n))
    opened = rng.binomial(sent, _sigmoid(-0.5 + 0.8 * interest))
    clicked = rng.binomial(opened, _sigmoid(-1.5 + 0.8 * interest))
    replied = rng.binomial(sent, _sigmoid(-2.5 + 0.9 * interest))
    meetings = rng.poisson(np.exp(-2.5 + 0.8 * interest))
    sessions = rng.poisson(np.exp(0.3 + 0.7 * interest))
    engaged = (opened + clicked + replied + meetings + sessions) > 0
    recency = np.where(engaged, np.minimum(rng.exponential(np.exp(2.5 - 0.6 * interest)).round(), 90), np.nan)
    intent = np.clip(np.round(35 + 18 * interest + rng.normal(0, 10, size=(t, n))), 0, 100)
    previous = np.vstack([intent[:1] + rng.normal(0, 8, size=(1, n)), intent[:-1]])
    delta = intent - previous
    tier = np.digitize(intent, [26, 51, 76])
    trend = np.where(delta > 5, 0, np.where(delta < -5, 2, 1))
    spike = (delta > 15).astype(float)

    logit = -2.8 + signal_strength * (1.3 * interest + 0.7 * fit)
    converted = (rng.random((t, n)) < _sigmoid(logit)).astype(np.int8)

    snapshot = pd.Timestamp(start) + pd.to_timedelta(np.arange(t) * spacing_days, unit="D")
    snapshot_date = np.repeat(snapshot.to_numpy(), n)
    observed_at = snapshot_date - pd.to_timedelta(rng.uniform(0, 36, size=t * n), unit="h").to_numpy()
    ids = np.char.add("prospect-", np.char.zfill(np.arange(n).astype(str), 7)).astype(object)
    orgs = np.char.add("org-", (np.arange(n) % n_organizations + 1).astype(str)).astype(object)

    def static(values: np.ndarray) -> np.ndarray:
        return np.tile(values, t)

    def label(names: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
        return np.asarray(names, dtype=object)[codes.ravel()]

    return pd.DataFrame({
        "prospect_id": static(ids),
        "organization_id": static(orgs),
        "snapshot_date": snapshot_date,
        "title": static(titles),
        "title_seniority": static(label(SENIORITIES, seniority)),
        "department": static(label(DEPARTMENTS, department)),
        "industry": static(label(INDUSTRIES, industry)),
        "employee_band": static(label(EMPLOYEE_BANDS, employee)),
        "revenue_band": static(label(REVENUE_BANDS, revenue)),
        "emails_sent": sent.ravel().astype(float),
        "emails_replied": replied.ravel().astype(float),
        "emails_opened": opened.ravel().astype(float),
        "emails_clicked": clicked.ravel().astype(float),
        "meetings_held": meetings.ravel().astype(float),
        "web_sessions": sessions.ravel().astype(float),
        "days_since_last_engagement": recency.ravel(),
        "intent_score": intent.ravel(),
        "intent_tier": label(INTENT_TIERS, tier),
        "intent_trend": label(INTENT_TRENDS, trend),
        "intent_spike": spike.ravel(),
        "technology_count": static(tech_count),
        "feature_observed_at": observed_at,
        "converted": converted.ravel(),
    })


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
