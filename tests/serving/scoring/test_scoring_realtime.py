"""Real-time scores are the champion's own probability, exactly; concurrent rows scored together get what each
would get alone; a promotion made outside this API process is served from the next request on."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from models.lead_scoring.features import LEAD_FEATURES, prepare_frame
from models.lead_scoring.rules import RuleSet
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import FAMILIES, LeadScoringModel, TrainingResult, train
from serving.core.db import engine_for
from serving.scoring import realtime
from serving.scoring.blend import score_prospects
from serving.scoring.registry_store import organization_registry

URL = "/api/v1/scoring/score"
CAMEL = {"title_seniority": "titleSeniority", "employee_band": "employeeBand", "revenue_band": "revenueBand",
         "emails_sent": "emailsSent", "emails_replied": "emailsReplied", "emails_opened": "emailsOpened",
         "emails_clicked": "emailsClicked", "meetings_held": "meetingsHeld", "web_sessions": "webSessions",
         "days_since_last_engagement": "daysSinceLastEngagement", "intent_score": "intentScore",
         "intent_tier": "intentTier", "intent_trend": "intentTrend", "intent_spike": "intentSpike",
         "technology_count": "technologyCount"}


@pytest.fixture(scope="module")
def both_families() -> TrainingResult:
    return train(make_feature_frame(n_prospects=800, n_snapshots=6, seed=5), seed=1)


def _rows(frame: pd.DataFrame, model: LeadScoringModel) -> list[dict]:
    """Feature rows as the API posts them (snake case, no missing values, the spike as 0/1)."""
    rows = []
    for record in frame[model.spec.columns].to_dict(orient="records"):
        row = {k: v for k, v in record.items() if not pd.isna(v)}
        if "intent_spike" in row:
            row["intent_spike"] = float(bool(row["intent_spike"]))
        rows.append(row)
    return rows


def _payload(row: dict) -> dict:
    features = {CAMEL.get(k, k): v for k, v in row.items()}
    if "intentSpike" in features:
        features["intentSpike"] = bool(features["intentSpike"])
    return {"features": features}


def _probability(model: LeadScoringModel, row: dict) -> float:
    """The champion's own predict_proba of the row, alone."""
    X = prepare_frame(pd.DataFrame([{**dict.fromkeys(LEAD_FEATURES.columns), **row}]),
                      spec=model.spec)[model.spec.columns]
    return float(model.estimator.predict_proba(X)[0, 1])


def test_the_served_probability_is_the_champions_predict_proba_exactly(client, tenant, register_versions,
                                                                        trained_model):
    register_versions(tenant, 1)
    model = trained_model.best
    for row in _rows(trained_model.validation.iloc[:8], model):
        body = client.post(URL, json=_payload(row), headers=tenant.user.headers).json()
        assert body["probability"] == _probability(model, row)
        assert body["mlScore"] == int(np.floor(100 * body["probability"] + 0.5))


def test_a_promotion_made_outside_the_api_is_served_from_the_next_request(client, tenant, register_versions,
                                                                           settings, both_families):
    register_versions(tenant, 1)
    row = _rows(both_families.validation.iloc[:1], both_families.best)[0]
    first = client.post(URL, json=_payload(row), headers=tenant.user.headers).json()
    assert first["modelVersion"] == "v1"
    # What a Dagster run or another API process does: register and promote in its own committed transaction.
    challenger = both_families.candidates["hist_gradient_boosting"]
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        registry = organization_registry(session, tenant.organization_id, home=settings.home)
        version = registry.register(challenger).version
        registry.promote(version, reason="a better model elsewhere")
    served = client.post(URL, json=_payload(row), headers=tenant.user.headers).json()
    assert served["modelVersion"] == version == "v2"
    assert served["probability"] == _probability(challenger, row) != first["probability"]


@pytest.mark.parametrize("family", FAMILIES)
def test_rows_posted_on_one_event_loop_turn_are_scored_in_one_pass_as_each_alone(both_families, family,
                                                                                  monkeypatch):
    model = both_families.candidates[family]
    rows = [{**dict.fromkeys(LEAD_FEATURES.columns), **row, "title": title} for row, title in
            zip(_rows(both_families.validation.iloc[:6], model), ["VP Sales", None, "CTO", "Analyst", None, "VP"],
                strict=True)]
    passes = []
    original = realtime._score_compiled
    monkeypatch.setattr(realtime, "_score_compiled",
                        lambda m, group, rules: passes.append(len(group)) or original(m, group, rules))

    async def score_all() -> list[dict | None]:
        return await asyncio.gather(*(realtime.score_row_on_loop(model=model, row=row, team_id="team-a",
                                                                  rule_set=None, explain=True) for row in rows))

    together = asyncio.run(score_all())
    assert passes == [len(rows)]
    monkeypatch.setattr(realtime, "_score_compiled", original)
    for row, result in zip(rows, together, strict=True):
        alone = realtime.score_row(model=model, row=row, team_id="team-a", rule_set=None, explain=True)
        assert result == alone
        assert result["probability"] == _probability(model, row)
    # a team's rules take the frame path: the caller is told so, and nothing was scored on the loop
    rules = RuleSet.model_validate({"name": "r", "mode": "blend", "ml_weight": 0.5, "base_points": 0,
                                    "rules": [{"name": "x", "points": 5,
                                               "when": [{"op": "gte", "column": "emails_sent", "value": 1}]}]})
    monkeypatch.setattr(realtime, "_score_compiled", lambda *args: passes.append("rules") or original(*args))
    assert asyncio.run(realtime.score_row_on_loop(model=model, row=rows[0], team_id="team-a", rule_set=rules,
                                                  explain=True)) is None
    assert passes == [len(rows)]


@pytest.mark.parametrize("family", FAMILIES)
def test_rows_scored_together_get_what_each_gets_alone(both_families, family, monkeypatch):
    model = both_families.candidates[family]
    rows = [{**row, "title": title} for row, title in
            zip(_rows(both_families.validation.iloc[:6], model), ["VP Sales", None, "CTO", "Analyst", None, "VP"],
                strict=True)]
    passes = []
    original = realtime._score_group
    monkeypatch.setattr(realtime, "_score_group", lambda group: passes.append(len(group)) or original(group))
    results: dict[int, dict] = {}

    def request(i: int) -> None:
        row = {**dict.fromkeys(LEAD_FEATURES.columns), **rows[i]}  # as the API passes it: every feature
        results[i] = realtime.score_row(model=model, row=row, team_id="team-a", rule_set=None, explain=True)

    # Hold the model as a running request would, so that all six queue behind it and are scored in one pass.
    with realtime._scoring:
        threads = [threading.Thread(target=request, args=(i,)) for i in range(len(rows))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(realtime._queue) < len(rows) and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    assert passes == [len(rows)]
    for i, row in enumerate(rows):
        alone = score_prospects(model=model, frame=pd.DataFrame([{**dict.fromkeys(LEAD_FEATURES.columns), **row,
                                                                  "team_id": "team-a"}])).iloc[0]
        assert results[i]["probability"] == _probability(model, row)
        assert (results[i]["score"], results[i]["baseline"], results[i]["other_impact"]) == \
            (alone["score"], alone["baseline"], alone["other_impact"])
        assert results[i]["top_factors"] == alone["top_factors"]
        assert results[i]["inputs_hash"] == alone["inputs_hash"]


def test_concurrent_requests_after_a_promotion_load_the_artifact_once(tenant, register_versions, settings,
                                                                       monkeypatch):
    from models.lead_scoring.registry import ModelRegistry
    from serving.scoring import model_cache

    register_versions(tenant, 1)
    model_cache.clear()
    loads = []
    original = ModelRegistry.load

    def slow_load(self, version=None):
        loads.append(version)
        time.sleep(0.3)  # a large artifact: the others arrive while it loads
        return original(self, version)

    monkeypatch.setattr(ModelRegistry, "load", slow_load)
    with Session(engine_for(settings.owner_database_url)) as session:
        sha256 = organization_registry(session, tenant.organization_id, home=settings.home).store.get("v1")["sha256"]
    models = []

    def request() -> None:
        with Session(engine_for(settings.owner_database_url)) as session:
            models.append(model_cache.get_model(session, organization_id=str(tenant.organization_id), version="v1",
                                                sha256=sha256, home=settings.home))

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert loads == ["v1"] and len(models) == 6 and all(m is models[0] for m in models)


def test_a_batch_of_a_linear_model_gets_each_rows_own_probability_bit_for_bit(both_families):
    model = both_families.candidates["logistic_regression"]
    frame = both_families.validation.iloc[:200].reset_index(drop=True)
    X = prepare_frame(frame, spec=model.spec)[model.spec.columns]
    alone = np.array([model.estimator.predict_proba(X.iloc[[i]])[0, 1] for i in range(len(X))])
    assert np.array_equal(realtime._row_probabilities(model, frame), alone)


SCORED = ("probability", "ml_score", "score", "tier", "mode", "model_version", "inputs_hash")
EXPLAINED = ("baseline", "top_factors", "other_impact")


def _frame_path(model: LeadScoringModel, rows: list[dict], *, explain: bool) -> list[dict]:
    """What the frame path (`score_prospects`, one row alone) answers for each row."""
    out = []
    for row in rows:
        scored = score_prospects(model=model, frame=pd.DataFrame([{**row, "team_id": None}]),
                                 explain_factors=explain).iloc[0]
        out.append({k: scored[k] for k in SCORED + (EXPLAINED if explain else ())})
    return out


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("explain", [True, False])
def test_the_compiled_path_answers_what_the_frame_path_does(both_families, family, explain):
    model = both_families.candidates[family]
    rng = np.random.default_rng(4)
    rows = []
    for row in _rows(both_families.validation.iloc[:60], model):
        row = {**dict.fromkeys(LEAD_FEATURES.columns), **row, "title": "VP Sales"}
        for name in LEAD_FEATURES.columns:  # missing values, unseen categories, whole numbers as int
            draw = rng.random()
            if draw < 0.12:
                row[name] = None
            elif draw < 0.18 and name in model.spec.categorical:
                row[name] = f"unseen {name}"
            elif isinstance(row[name], float) and row[name].is_integer() and draw < 0.5:
                row[name] = int(row[name])
        rows.append(row)
    group = [realtime._Pending(model=model, row={**row, realtime.TEAM_COLUMN: None}, team=None, rule_set=None,
                               explain=explain) for row in rows]
    compiled = realtime._score_compiled(model, group, {})
    assert compiled is not None
    expected = _frame_path(model, rows, explain=explain)
    for got, want in zip(compiled, expected, strict=True):
        assert {k: got[k] for k in want} == want
    # every row alone, as a lone request is scored: the same answers
    for row, want in zip(rows[:10], expected[:10], strict=True):
        alone = realtime._score_compiled(model, [realtime._Pending(model=model, row=row, team=None, rule_set=None,
                                                                   explain=explain)], {})[0]
        assert {k: alone[k] for k in want} == want


def test_rules_and_unusual_values_take_the_frame_path(both_families):
    model = both_families.best
    row = {**dict.fromkeys(LEAD_FEATURES.columns), **_rows(both_families.validation.iloc[:1], model)[0]}
    rules = RuleSet.model_validate({"name": "Fit", "mode": "blend", "ml_weight": 0.5, "base_points": 0,
                                    "rules": [{"name": "Replied", "points": 30,
                                               "when": [{"op": "gte", "column": "emails_replied", "value": 1}]}]})

    def pending(values: dict, rule_set=None) -> list:
        return [realtime._Pending(model=model, row=values, team="t", rule_set=rule_set, explain=True)]

    assert realtime._score_compiled(model, pending(row, rules), {"t": rules}) is None
    assert realtime._score_compiled(model, pending({**row, "emails_sent": "3"}), {}) is None
    assert realtime._score_compiled(model, pending({**row, "emails_sent": float("inf")}), {}) is None
    assert realtime._score_compiled(model, pending(row), {}) is not None
    # and score_row still answers those through the frame path
    scored = realtime.score_row(model=model, row={**row, "emails_sent": "3"}, team_id="t", rule_set=rules,
                                explain=True)
    assert scored["mode"] == "blend"
