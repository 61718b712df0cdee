"""/scoring: real-time scores, model versions with promote/rollback, team rule sets; auth, scope and tenancy."""

from __future__ import annotations

from sqlalchemy import select

from serving.prospects.models import Prospect
from serving.scoring import prediction_log
from serving.scoring.models import AiPrediction, LeadScoreHistory
from tests.factories import unique_email

URL = "/api/v1/scoring"
FEATURES = {"titleSeniority": "vp", "department": "sales", "industry": "software", "employeeBand": "201-1000",
            "revenueBand": "10M-50M", "emailsSent": 4, "emailsReplied": 1, "emailsOpened": 3, "emailsClicked": 1,
            "meetingsHeld": 0, "webSessions": 5, "daysSinceLastEngagement": 3, "intentScore": 64,
            "intentTier": "hot", "intentTrend": "increasing", "intentSpike": True}
RULES = {"name": "Enterprise fit", "mode": "blend", "ml_weight": 0.6, "base_points": 10,
         "rules": [{"name": "Executive title", "points": 30,
                    "when": [{"op": "contains", "column": "title", "values": ["vp", "chief"]}]}]}


def _error(response):
    body = response.json()
    assert body["success"] is False
    return body["error"]


# -- real-time scoring ---------------------------------------------------------------------------------

def test_score_needs_auth_write_scope_and_a_champion(client, tenant):
    assert client.post(f"{URL}/score", json={"features": FEATURES}).status_code == 401
    assert client.post(f"{URL}/score", json={"features": FEATURES}, headers=tenant.viewer.headers).status_code == 403
    response = client.post(f"{URL}/score", json={"features": FEATURES}, headers=tenant.user.headers)
    assert response.status_code == 409
    error = _error(response)
    assert error["code"] == "NO_CHAMPION_MODEL" and "no champion" in error["message"]


def test_score_returns_explained_score_and_logs_it(client, tenant, register_versions, owner_session):
    register_versions(tenant, 1)
    prospect = tenant.add(Prospect, email=unique_email())
    response = client.post(f"{URL}/score", json={"features": FEATURES, "prospectId": str(prospect.id)},
                           headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelVersion"] == "v1" and body["mode"] == "ml_only" and body["score"] == body["mlScore"]
    assert 0 <= body["score"] <= 100 and body["tier"] in {"low", "warm", "hot", "burning"}
    assert 0 < len(body["topFactors"]) <= 5
    assert body["baseline"] + sum(f["impact"] for f in body["topFactors"]) + body["otherFactorsImpact"] \
        == body["score"]
    prediction_log.flush_all()  # the API writes its log off the request path
    logged = owner_session.get(AiPrediction, body["predictionId"])
    assert (logged.source, logged.prospect_id, logged.score, logged.inputs_hash) == \
        ("realtime", prospect.id, body["score"], body["inputsHash"])
    # same inputs → same hash and score (the champion is cached, not reloaded)
    again = client.post(f"{URL}/score", json={"features": FEATURES}, headers=tenant.user.headers).json()
    assert (again["score"], again["inputsHash"]) == (body["score"], body["inputsHash"])


def test_score_validation_errors(client, tenant, register_versions):
    register_versions(tenant, 1)
    cases = [
        {"features": {**FEATURES, "priorityScore": 80}},  # post-outcome / unknown field
        {"features": {**FEATURES, "intentTier": "scorching"}},
        {"features": {**FEATURES, "emailsSent": -1}},
        {"features": {}},
        {},
    ]
    for payload in cases:
        response = client.post(f"{URL}/score", json=payload, headers=tenant.user.headers)
        assert response.status_code == 422, payload
        assert _error(response)["code"] == "VALIDATION_ERROR"


def test_score_refuses_another_tenants_prospect(client, tenant, other_tenant, register_versions):
    register_versions(tenant, 1)
    theirs = other_tenant.add(Prospect, email=unique_email())
    response = client.post(f"{URL}/score", json={"features": FEATURES, "prospectId": str(theirs.id)},
                           headers=tenant.user.headers)
    assert response.status_code == 404


# -- models: list, promote, rollback ---------------------------------------------------------------------

def test_models_listed_with_metrics_and_champion_flag(client, tenant, other_tenant, register_versions):
    register_versions(tenant, 2)
    body = client.get(f"{URL}/models", headers=tenant.viewer.headers).json()
    assert [m["version"] for m in body["data"]] == ["v2", "v1"] and body["pagination"]["total"] == 2
    v2, v1 = body["data"]
    assert (v1["isChampion"], v1["status"], v2["isChampion"], v2["status"]) == (True, "champion", False, "candidate")
    assert v1["metrics"]["roc_auc"] > 0.6 and v1["family"] == "logistic_regression"
    assert client.get(f"{URL}/models", headers=other_tenant.admin.headers).json()["data"] == []


def test_promote_and_rollback_are_admin_only_and_tenant_scoped(client, tenant, other_tenant, register_versions):
    register_versions(tenant, 2)
    assert client.post(f"{URL}/models/v2/promote", headers=tenant.viewer.headers).status_code == 403
    assert client.post(f"{URL}/models/v2/promote", headers=tenant.user.headers).status_code == 403
    assert client.post(f"{URL}/models/v2/promote", headers=other_tenant.admin.headers).status_code == 404
    assert client.post(f"{URL}/models/v9/promote", headers=tenant.admin.headers).status_code == 404

    promoted = client.post(f"{URL}/models/v2/promote", json={"reason": "better on last week"},
                           headers=tenant.admin.headers)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {"version": "v2", "action": "promote", "previousChampion": "v1", "champion": "v2"}
    scored = client.post(f"{URL}/score", json={"features": FEATURES}, headers=tenant.user.headers).json()
    assert scored["modelVersion"] == "v2"

    rolled = client.post(f"{URL}/models/v1/promote", headers=tenant.admin.headers).json()
    assert rolled["action"] == "rollback" and rolled["champion"] == "v1"
    models = {m["version"]: m for m in client.get(f"{URL}/models", headers=tenant.admin.headers).json()["data"]}
    assert models["v1"]["isChampion"] and not models["v2"]["isChampion"] and models["v2"]["status"] == "retired"
    assert [h["reason"] for h in models["v1"]["championHistory"]] == ["first model", "rollback from v2"]
    assert client.post(f"{URL}/score", json={"features": FEATURES},
                       headers=tenant.user.headers).json()["modelVersion"] == "v1"


# -- team rule sets ----------------------------------------------------------------------------------------

def test_rules_default_put_get_and_blend(client, tenant, register_versions):
    register_versions(tenant, 1)
    default = client.get(f"{URL}/rules", headers=tenant.viewer.headers).json()
    assert default["isDefault"] and default["mode"] == "ml_only"
    assert client.put(f"{URL}/rules", json={"ruleSet": RULES}, headers=tenant.viewer.headers).status_code == 403
    saved = client.put(f"{URL}/rules", json={"ruleSet": RULES, "scoreThreshold": 70}, headers=tenant.user.headers)
    assert saved.status_code == 200, saved.text
    body = client.get(f"{URL}/rules", headers=tenant.viewer.headers).json()
    assert (body["mode"], body["mlWeight"], body["scoreThreshold"], body["isDefault"]) == ("blend", 0.6, 70, False)
    assert body["ruleSet"]["rules"][0]["name"] == "Executive title"

    scored = client.post(f"{URL}/score", json={"features": FEATURES, "title": "VP of Sales"},
                         headers=tenant.user.headers).json()
    assert scored["mode"] == "blend"
    assert any(f["factor"] == "Executive title" for f in scored["topFactors"])
    assert scored["baseline"] + sum(f["impact"] for f in scored["topFactors"]) + scored["otherFactorsImpact"] \
        == scored["score"]


def test_invalid_rule_sets_are_refused_with_reasons(client, tenant):
    bad = [
        {**RULES, "rules": [{"name": "x", "points": 10, "when": [{"op": "gte", "column": "industry", "value": 3}]}]},
        {**RULES, "rules": [{"name": "x", "points": 10,
                             "when": [{"op": "in", "column": "employee_band", "values": ["huge"]}]}]},
        {**RULES, "mode": "sometimes"},
        {**RULES, "rules": [{"name": "x", "points": 500, "when": [{"op": "gte", "column": "web_sessions",
                                                                    "value": 1}]}]},
    ]
    for rule_set in bad:
        response = client.put(f"{URL}/rules", json={"ruleSet": rule_set}, headers=tenant.user.headers)
        assert response.status_code == 422, rule_set
        error = _error(response)
        assert error["code"] == "VALIDATION_ERROR" and error["message"].startswith("invalid rule set")
    assert "numeric column" in _error(client.put(f"{URL}/rules", json={"ruleSet": bad[0]},
                                                 headers=tenant.user.headers))["message"]


def test_rules_of_another_team_are_for_admins(client, tenant, other_tenant):
    assert client.get(f"{URL}/rules", params={"teamId": str(other_tenant.team_id)},
                      headers=tenant.admin.headers).status_code == 404
    assert client.get(f"{URL}/rules", params={"teamId": str(other_tenant.team_id)},
                      headers=tenant.user.headers).status_code == 404


# -- insights ------------------------------------------------------------------------------------------------

def test_insights_return_model_score_factors_and_history(client, tenant, owner_session):
    insights = {"modelVersion": "v3", "topFactors": [{"factor": "Intent tier hot (score 62)", "impact": 18,
                                                      "text": "Intent tier hot (score 62): +18"},
                                                     {"factor": "No reply to 4 emails", "impact": -7}],
                "leadScore": {"score": 57, "mlScore": 52, "tier": "hot", "baseline": 40, "otherFactorsImpact": 6,
                              "mode": "blend"}}
    prospect = tenant.add(Prospect, email=unique_email(), ai_insights=insights, priority_score=57)
    from datetime import date, timedelta
    for days, score in ((2, 41), (1, 49), (0, 57)):
        tenant.add(LeadScoreHistory, prospect_id=prospect.id, score_date=date.today() - timedelta(days=days),
                   score=score, ml_score=score - 5, tier="hot" if score > 50 else "warm", model_version="v3")
    body = client.get(f"/api/v1/prospects/{prospect.id}/insights", headers=tenant.viewer.headers).json()
    assert (body["score"], body["tier"], body["mlScore"], body["modelVersion"]) == (57, "hot", 52, "v3")
    assert body["topFactors"] == [{"factor": "Intent tier hot (score 62)", "impact": 18},
                                  {"factor": "No reply to 4 emails", "impact": -7}]
    assert body["scoreBaseline"] + 18 - 7 + body["otherFactorsImpact"] == body["score"]
    assert [h["score"] for h in body["scoreHistory"]] == [41, 49, 57]
    assert owner_session.scalars(select(LeadScoreHistory).where(
        LeadScoreHistory.prospect_id == prospect.id)).all()


def test_huge_feature_values_are_refused_and_large_ones_score(client, tenant, register_versions):
    """A count of 1e300 overflowed the model to a NaN score (500); counts are finite and bounded at the edge."""
    register_versions(tenant, 1)
    counts = ("emailsSent", "emailsReplied", "emailsOpened", "emailsClicked", "meetingsHeld", "webSessions",
              "daysSinceLastEngagement", "technologyCount")
    huge = client.post(f"{URL}/score", json={"features": {**FEATURES, **dict.fromkeys(counts, 1e300)}},
                       headers=tenant.user.headers)
    assert huge.status_code == 422 and _error(huge)["code"] == "VALIDATION_ERROR", huge.text
    large = client.post(f"{URL}/score", json={"features": {**FEATURES, **dict.fromkeys(counts, 1e15)}},
                        headers=tenant.user.headers)
    assert large.status_code == 200, large.text
    assert 0 <= large.json()["score"] <= 100 and 0.0 <= large.json()["probability"] <= 1.0
