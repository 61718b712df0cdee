"""The playground through the API: arms side by side on one prospect (offline and a model arm through the real
OpenAI SDK against the fake vendor), unknown prompt variables refused, ratings, the per-model summary, export to
an e-mail template with values mapped back to variables, the agent-session log, and tenancy."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.main import create_app
from tests.conftest import make_settings

URL = "/api/v1/ai/playground/experiments"
PROMPT = "Write to {{firstName}} at {{company}} about {{topic}}.\n{{facts}}"


def _prospect(client, member) -> dict:
    body = {"email": f"dana.{uuid.uuid4().hex[:6]}@acme-robotics.example", "firstName": "Dana", "lastName": "Reyes",
            "title": "VP of Operations", "company": "Acme Robotics"}
    response = client.post("/api/v1/prospects", json=body, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _experiment(client, member, prospect_id, arms, **extra) -> dict:
    body = {"name": "Openers", "promptTemplate": PROMPT, "variables": {"topic": "onboarding"},
            "prospectId": prospect_id, "arms": arms, **extra}
    response = client.post(URL, json=body, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def llm_client(settings, fake_vendors):
    keyed = make_settings(settings.owner_database_url, settings.home, **fake_vendors.env(only=("openai",)))
    with TestClient(create_app(keyed)) as test_client:
        yield test_client


def test_two_arms_run_side_by_side_on_the_same_context_and_are_rated_summarised_and_logged(
        llm_client, fake_vendors, tenant, owner_session):
    prospect = _prospect(llm_client, tenant.user)
    fake_vendors.answer_json({"subject": "Acme Robotics and onboarding",
                              "body": "Hi Dana,\n\nAs VP of Operations at Acme Robotics, onboarding speed matters "
                                      "to your team. Would a 15-minute call next week help?\n\nBest,\nAdmin"})
    experiment = _experiment(llm_client, tenant.user, prospect["id"],
                             [{"provider": "offline"}, {"provider": "openai", "model": "gpt-4o-mini"}])

    run = llm_client.post(f"{URL}/{experiment['id']}/run", headers=tenant.user.headers)
    assert run.status_code == 200, run.text
    offline, model = run.json()["outputs"]
    assert offline["provider"] == "offline" and offline["text"].startswith("Hi Dana,") and offline["check"]["passed"]
    assert model["provider"] == "openai" and model["model"] == "gpt-4o-mini"
    assert model["subject"] == "Acme Robotics and onboarding" and model["inputTokens"] > 0
    assert float(model["costUsd"]) > 0 and model["latencyMs"] > 0 and model["check"] is not None

    # the model saw the rendered template: variables filled, the facts with their sources inside <data>
    user = next(m["content"] for m in fake_vendors.openai.requests[-1].body["messages"] if m["role"] == "user")
    assert user.startswith("Write to Dana at Acme Robotics about onboarding.")
    assert f"(source: prospects#{prospect['id']}.title" in user and "{{" not in user

    rated = llm_client.post(f"{URL}/{experiment['id']}/outputs/1/rating", json={"thumbs": 1, "score": 4},
                            headers=tenant.user.headers)
    assert rated.status_code == 200 and (rated.json()["rating"], rated.json()["score"]) == (1, 4)
    bad = llm_client.post(f"{URL}/{experiment['id']}/outputs/1/rating", json={"score": 6},
                          headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["success"] is False
    missing = llm_client.post(f"{URL}/{experiment['id']}/outputs/5/rating", json={"thumbs": -1},
                              headers=tenant.user.headers)
    assert missing.status_code == 404

    again = llm_client.post(f"{URL}/{experiment['id']}/run", headers=tenant.user.headers)
    assert again.status_code == 200
    stored = llm_client.get(f"{URL}/{experiment['id']}", headers=tenant.user.headers).json()
    assert len(stored["runs"]) == 2 and stored["runs"][0]["outputs"][1]["score"] == 4  # the history keeps ratings
    summary = {(s["provider"], s["model"]): s for s in stored["summary"]}
    openai = summary[("openai", "gpt-4o-mini")]
    assert openai["outputs"] == 2 and openai["thumbsUp"] == 1 and openai["avgScore"] == 4
    assert float(openai["costUsd"]) == pytest.approx(2 * float(model["costUsd"]), rel=0.5)
    assert summary[("offline", "offline-writer-v1")]["costUsd"] == "0"

    listed = llm_client.get(URL, headers=tenant.user.headers).json()
    assert set(listed) == {"data", "pagination"} and experiment["id"] in {e["id"] for e in listed["data"]}

    sessions = owner_session.execute(text(
        "select agent, jsonb_array_length(messages), input_tokens from app.ai_agent_sessions "
        "where experiment_id = :id"), {"id": experiment["id"]}).all()
    assert len(sessions) == 2 and all(s[0] == "playground" and s[1] == 4 and s[2] > 0 for s in sessions)


def test_an_arm_without_a_key_records_its_error_and_the_others_still_run(client, tenant):
    prospect = _prospect(client, tenant.user)
    experiment = _experiment(client, tenant.user, prospect["id"],
                             [{"provider": "offline"}, {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"}])
    outputs = client.post(f"{URL}/{experiment['id']}/run", headers=tenant.user.headers).json()["outputs"]
    assert outputs[0]["text"] and outputs[0]["error"] is None
    assert "no API key" in outputs[1]["error"] and outputs[1]["check"] is None


def test_unknown_prompt_variables_are_refused_not_blanked(client, tenant):
    prospect = _prospect(client, tenant.user)
    body = {"name": "x", "promptTemplate": "Hi {{firstName}}, about {{mystery}}", "prospectId": prospect["id"],
            "arms": [{"provider": "offline"}]}
    refused = client.post(URL, json=body, headers=tenant.user.headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "UNKNOWN_PROMPT_VARIABLES" and error["details"]["unknown"] == ["mystery"]
    assert error["details"]["field"] == "promptTemplate"

    arm = client.post(URL, json={**body, "promptTemplate": "Hi {{firstName}}",
                                 "arms": [{"provider": "openai", "model": "gpt-4o", "prompt": "{{nope}}"}]},
                      headers=tenant.user.headers)
    assert arm.status_code == 422 and arm.json()["error"]["details"]["field"] == "arms.0.prompt"
    wrong = client.post(URL, json={**body, "promptTemplate": "Hi", "arms": [{"provider": "openai",
                                                                             "model": "claude-3-5-haiku-20241022"}]},
                        headers=tenant.user.headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "UNKNOWN_MODEL"

    ok = _experiment(client, tenant.user, prospect["id"], [{"provider": "offline"}])
    patched = client.patch(f"{URL}/{ok['id']}", json={"promptTemplate": "{{ghost}}"}, headers=tenant.user.headers)
    assert patched.status_code == 422
    assert client.get(f"{URL}/{ok['id']}", headers=tenant.user.headers).json()["promptTemplate"] == PROMPT


def test_an_output_exports_as_a_template_with_the_prospects_values_as_variables(client, tenant):
    prospect = _prospect(client, tenant.user)
    experiment = _experiment(client, tenant.user, prospect["id"], [{"provider": "offline"}])
    output = client.post(f"{URL}/{experiment['id']}/run", headers=tenant.user.headers).json()["outputs"][0]
    assert "Acme Robotics" in output["text"]

    exported = client.post(f"{URL}/{experiment['id']}/outputs/0/export", json={"name": "Learned opener"},
                           headers=tenant.user.headers)
    assert exported.status_code == 201, exported.text
    template = client.get(f"/api/v1/email-templates/{exported.json()['templateId']}",
                          headers=tenant.user.headers).json()
    assert "Acme Robotics" not in template["text"] and "{{company}}" in template["text"]
    assert template["text"].startswith("Hi {{firstName}},")
    assert {"firstName", "company"} <= set(exported.json()["variablesUsed"])

    # the template renders for another prospect with that prospect's values
    other = client.post("/api/v1/prospects", json={"email": "li@globex.example", "firstName": "Li",
                                                   "company": "Globex"}, headers=tenant.user.headers).json()
    preview = client.post(f"/api/v1/email-templates/{template['id']}/preview", json={"prospectId": other["id"]},
                          headers=tenant.user.headers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["text"].startswith("Hi Li,") and "Globex" in preview.json()["text"]

    duplicate = client.post(f"{URL}/{experiment['id']}/outputs/0/export", json={"name": "Learned opener"},
                            headers=tenant.user.headers)
    assert duplicate.status_code == 409


def test_experiments_are_invisible_to_another_organization(client, tenant, other_tenant):
    prospect = _prospect(client, tenant.user)
    experiment = _experiment(client, tenant.user, prospect["id"], [{"provider": "offline"}])
    for method, path, body in (("get", "", None), ("post", "/run", None), ("patch", "", {"notes": "x"}),
                               ("post", "/outputs/0/rating", {"thumbs": 1}), ("delete", "", None)):
        kwargs = {"json": body} if body is not None else {}
        response = client.request(method.upper(), f"{URL}/{experiment['id']}{path}",
                                  headers=other_tenant.user.headers, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
    assert experiment["id"] not in {e["id"] for e in
                                    client.get(URL, headers=other_tenant.user.headers).json()["data"]}
    # nor can one point an experiment at another organization's prospect
    foreign = client.post(URL, json={"name": "x", "promptTemplate": "Hi", "prospectId": prospect["id"],
                                     "arms": [{"provider": "offline"}]}, headers=other_tenant.user.headers)
    assert foreign.status_code == 422


def test_a_viewer_may_read_but_not_run(client, tenant):
    prospect = _prospect(client, tenant.user)
    experiment = _experiment(client, tenant.user, prospect["id"], [{"provider": "offline"}])
    assert client.get(f"{URL}/{experiment['id']}", headers=tenant.viewer.headers).status_code == 200
    assert client.post(f"{URL}/{experiment['id']}/run", headers=tenant.viewer.headers).status_code == 403
