"""`POST /scoring/score` on the event loop (serving/core/fast_read.py): the model's own answer and explanation, the
prediction logged with every field (off the request path: serving/scoring/prediction_log.py), and the same
refusals, none of which logs anything."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from serving.organizations.models import Team
from serving.prospects.models import Prospect
from serving.scoring import model_cache, prediction_log, realtime, service
from serving.scoring.models import AiPrediction
from serving.scoring.schemas import ScoreRequest, ScoreResult
from tests.factories import unique_email

URL = "/api/v1/scoring/score"
FEATURES = {"titleSeniority": "vp", "department": "sales", "industry": "software", "employeeBand": "201-1000",
            "revenueBand": "10M-50M", "emailsSent": 4, "emailsReplied": 1, "emailsOpened": 3, "emailsClicked": 1,
            "meetingsHeld": 0, "webSessions": 5, "daysSinceLastEngagement": 3, "intentScore": 64,
            "intentTier": "hot", "intentTrend": "increasing", "intentSpike": True}


def _logged(owner_session, organization_id) -> int:
    prediction_log.flush_all()  # what the API's log writer does within FLUSH_SECONDS
    owner_session.expire_all()
    return owner_session.scalar(select(func.count()).select_from(AiPrediction)
                                .where(AiPrediction.organization_id == organization_id))


def _key(client, member, scopes) -> str:
    response = client.post("/api/v1/api-keys", json={"name": f"k {uuid.uuid4().hex[:6]}", "scopes": list(scopes)},
                           headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()["key"]


def test_the_answer_is_the_models_own_and_is_logged_field_for_field(client, tenant, register_versions,
                                                                     owner_session):
    register_versions(tenant, 1)
    prospect = tenant.add(Prospect, email=unique_email())
    payload = {"features": FEATURES, "prospectId": str(prospect.id), "teamId": str(tenant.team_id),
               "title": "VP of Sales"}
    response = client.post(URL, json=payload, headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    body = response.json()

    request = ScoreRequest.model_validate(payload)
    version = body["modelVersion"]
    (model,) = [m for key, m in model_cache._models.items() if key[0] == str(tenant.organization_id)
                and key[1] == version]
    expected = realtime.score_row(model=model, row=service._feature_row(request), team_id=str(tenant.team_id),
                                  rule_set=None, explain=True)
    assert body["probability"] == expected["probability"]  # exact, not approximately
    assert (body["score"], body["mlScore"], body["tier"], body["inputsHash"], body["topFactors"], body["baseline"],
            body["otherFactorsImpact"]) == (expected["score"], expected["ml_score"], expected["tier"],
                                            expected["inputs_hash"], expected["top_factors"], expected["baseline"],
                                            expected["other_impact"])
    assert list(body) == [field.alias for field in ScoreResult.model_fields.values()]  # as FastAPI rendered it

    prediction_log.flush_all()
    logged = owner_session.get(AiPrediction, uuid.UUID(body["predictionId"]))
    assert (logged.organization_id, logged.prospect_id, logged.prediction_type, logged.source, logged.model_version,
            logged.inputs_hash, logged.score, logged.ml_score, logged.probability, logged.tier,
            logged.top_factors) == (tenant.organization_id, prospect.id, "lead_scoring", "realtime", version,
                                    body["inputsHash"], body["score"], body["mlScore"], body["probability"],
                                    body["tier"], body["topFactors"])

    unexplained = client.post(URL, json={**payload, "explain": False}, headers=tenant.user.headers).json()
    assert (unexplained["topFactors"], unexplained["baseline"], unexplained["otherFactorsImpact"]) == ([], None, None)
    assert unexplained["probability"] == body["probability"]


def test_refusals_log_nothing(client, tenant, other_tenant, register_versions, owner_session):
    assert client.post(URL, json={"features": FEATURES}, headers=tenant.user.headers).status_code == 409
    register_versions(tenant, 1)
    before = _logged(owner_session, tenant.organization_id)
    theirs = other_tenant.add(Prospect, email=unique_email())
    refusals = [
        ({"features": FEATURES, "prospectId": str(theirs.id)}, tenant.user.headers, 404, "NOT_FOUND"),
        ({"features": FEATURES, "teamId": str(other_tenant.team_id)}, tenant.user.headers, 404, "NOT_FOUND"),
        ({"features": FEATURES}, tenant.viewer.headers, 403, None),
        ({"features": FEATURES}, {"X-API-Key": _key(client, tenant.user, ["prospects:read"])}, 403, None),
        ({"features": FEATURES}, {"X-API-Key": "sk_live_" + "x" * 43}, 401, "INVALID_API_KEY"),
        ({"features": FEATURES}, {}, 401, None),
        ({"features": {}}, {}, 401, None),  # credentials are checked before the body, as before
        ({"features": {}}, tenant.user.headers, 422, "VALIDATION_ERROR"),
    ]
    for payload, headers, status, code in refusals:
        response = client.post(URL, json=payload, headers=headers)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["success"] is False
        if code:
            assert response.json()["error"]["code"] == code
    assert _logged(owner_session, tenant.organization_id) == before
    not_found = client.post(URL, json={"features": FEATURES, "teamId": str(other_tenant.team_id)},
                            headers=tenant.user.headers).json()["error"]
    assert not_found["details"] == {"resource": "team", "id": str(other_tenant.team_id)}

    key = _key(client, tenant.user, ["prospects:write"])
    assert client.post(URL, json={"features": FEATURES}, headers={"X-API-Key": key}).status_code == 200
    assert _logged(owner_session, tenant.organization_id) == before + 1


def test_concurrent_requests_are_each_answered_and_logged_once(client, tenant, register_versions, owner_session):
    register_versions(tenant, 1)
    model_cache.clear()  # the first requests race to load the champion (one load, in the thread pool)
    before = _logged(owner_session, tenant.organization_id)

    def post(i: int) -> dict:
        response = client.post(URL, json={"features": {**FEATURES, "emailsSent": i}}, headers=tenant.user.headers)
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(post, range(40)))
    assert len({b["predictionId"] for b in bodies}) == 40
    assert _logged(owner_session, tenant.organization_id) == before + 40
    owner_session.expire_all()
    logged = dict(owner_session.execute(select(AiPrediction.id, AiPrediction.inputs_hash).where(
        AiPrediction.id.in_([uuid.UUID(b["predictionId"]) for b in bodies]))).all())
    assert {str(k): v for k, v in logged.items()} == {b["predictionId"]: b["inputsHash"] for b in bodies}


def test_without_team_id_only_the_callers_own_teams_rules_apply(client, tenant, register_versions):
    """The rules are read with the authentication (every team's rule set of the organization, one round trip):
    another team's rules never score the caller's request, its own do."""
    register_versions(tenant, 1)
    other_team = tenant.add(Team, name=f"Other {uuid.uuid4().hex[:6]}")
    blend = {"name": "Other team's", "mode": "rules_only", "ml_weight": 0.0, "base_points": 90, "rules": []}
    saved = client.put("/api/v1/scoring/rules", params={"teamId": str(other_team.id)}, json={"ruleSet": blend},
                       headers=tenant.admin.headers)
    assert saved.status_code == 200, saved.text
    payload = {"features": FEATURES, "title": "VP of Sales"}
    own = client.post(URL, json=payload, headers=tenant.user.headers).json()
    assert own["mode"] == "ml_only"
    theirs = client.post(URL, json={**payload, "teamId": str(other_team.id)}, headers=tenant.admin.headers).json()
    assert (theirs["mode"], theirs["score"]) == ("rules_only", 90)
    saved = client.put("/api/v1/scoring/rules", json={"ruleSet": blend}, headers=tenant.user.headers)
    assert saved.status_code == 200, saved.text
    assert client.post(URL, json=payload, headers=tenant.user.headers).json()["mode"] == "rules_only"
