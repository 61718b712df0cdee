"""The final lead score of a batch of prospects: the champion's ML score blended with each team's rule set.

Pure (frames in, frames out) and shared by the batch-scoring asset and `POST /scoring/score`, so a
prospect gets the same score and the same factors either way. Vectorised: one `predict_proba` pass, one
explanation pass, and one rule pass per team (a loop over teams, never over rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.lead_scoring.explain import ScoreAttribution, explain_prepared
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.predict import score_prepared, tier_for
from models.lead_scoring.rules import RuleSet, score_with_rules
from models.lead_scoring.train import LeadScoringModel

TOP_FACTORS = 5


def _rows(attribution: ScoreAttribution, mask: np.ndarray) -> ScoreAttribution:
    return ScoreAttribution(baseline=attribution.baseline[mask], contributions=attribution.contributions[mask],
                            phrases=attribution.phrases[mask])


def _factor_columns(attribution: ScoreAttribution, *, top_k: int) -> dict[str, Any]:
    """Integer baseline, top factors and the sum of the other factors, so baseline + Σ top + other == score."""
    baseline, _ = attribution.rounded()
    top = attribution.top_factors(top_k=top_k)
    shown = np.fromiter((sum(f["impact"] for f in row) for row in top), dtype=int, count=len(top))
    scores = attribution.scores
    return {"score": scores, "baseline": baseline, "top_factors": top,
            "other_impact": scores - baseline - shown}


def score_prospects(*, model: LeadScoringModel, frame: pd.DataFrame, rule_sets: Mapping[Any, RuleSet] | None = None,
                    team_column: str = "team_id", top_k: int = TOP_FACTORS, explain_factors: bool = True,
                    probability: np.ndarray | None = None) -> pd.DataFrame:
    """Score every row with the model, then apply the rule set of the row's team (`rule_sets[team]`).

    Returns the id columns plus `probability`, `ml_score` (the model alone), `score` (after the team's
    rules), `tier` (of `score`), `mode`, `model_version`, `inputs_hash`, and, with `explain_factors`,
    `baseline`, `top_factors` [{factor, impact, feature, text}] and `other_impact`. `probability` is the
    rows' calibrated probability when the caller computed it already (one model call per row, see
    `serving.scoring.realtime`).
    """
    rule_sets = rule_sets or {}
    prepared = prepare_frame(frame, spec=model.spec).reset_index(drop=True)
    out = score_prepared(model=model, prepared=prepared, probability=probability).reset_index(drop=True)
    out = out.rename(columns={"score": "ml_score"}).drop(columns=["tier"])
    out["mode"] = "ml_only"
    teams = prepared[team_column] if team_column in prepared.columns else pd.Series(None, index=prepared.index)
    out[team_column] = teams.to_numpy()
    needs_rules = {team: rs for team, rs in rule_sets.items() if rs.mode != "ml_only"}
    if not explain_factors and not needs_rules:
        out["score"] = out["ml_score"]
        out["tier"] = tier_for(out["score"])
        return out

    ml = explain_prepared(model=model, prepared=prepared, probability=out["probability"].to_numpy()) \
        if explain_factors else ScoreAttribution.from_scores(
        out["ml_score"].to_numpy(), index=prepared.index)
    score = np.asarray(out["ml_score"], dtype=int).copy()
    columns: dict[str, Any] = {}
    if explain_factors:
        columns = {k: np.empty(len(prepared), dtype=object) for k in ("top_factors",)}
        columns["baseline"] = np.zeros(len(prepared), dtype=int)
        columns["other_impact"] = np.zeros(len(prepared), dtype=int)
    plain = np.ones(len(prepared), dtype=bool)
    for team, rule_set in needs_rules.items():
        mask = (teams.astype(str) == str(team)).to_numpy()
        if not mask.any():
            continue
        plain &= ~mask
        team_attr = score_with_rules(frame=prepared[mask], rule_set=rule_set, ml=_rows(ml, mask))
        score[mask] = team_attr.scores
        out.loc[mask, "mode"] = rule_set.mode
        if explain_factors:
            parts = _factor_columns(team_attr, top_k=top_k)
            columns["top_factors"][mask] = pd.Series(parts["top_factors"], dtype=object).to_numpy()
            columns["baseline"][mask] = parts["baseline"]
            columns["other_impact"][mask] = parts["other_impact"]
    if explain_factors and plain.any():
        parts = _factor_columns(_rows(ml, plain), top_k=top_k)
        columns["top_factors"][plain] = pd.Series(parts["top_factors"], dtype=object).to_numpy()
        columns["baseline"][plain] = parts["baseline"]
        columns["other_impact"][plain] = parts["other_impact"]
        # the explanation's integer score equals the model's score up to float rounding at .5
        score[plain] = parts["score"]
    out["score"] = score
    out["tier"] = tier_for(score)
    for name, values in columns.items():
        out[name] = values
    return out
