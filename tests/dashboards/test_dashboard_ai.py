"""The AI writer and AI playground pages on a live API with no AI keys: the writer generates (streamed preview),
re-checks an edit and sends, all through the API; the playground runs two arms side by side and rates one.
Light setup: the test database and a fresh tenant (these pages read nothing from the marts)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from dashboards.components import session
from serving.core.config import get_settings
from serving.main import create_app
from tests.conftest import TEST_JWT_SECRET
from tests.dashboards.conftest import ROOT, _serve, free_port
from tests.factories import PASSWORD, Tenant

PAGES = ROOT / "dashboards" / "app_pages"


@pytest.fixture(scope="module")
def live_api(settings) -> Iterator[str]:
    port = free_port()
    server = _serve(create_app(settings), port)
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"REVORC_API_URL": url, "JWT_SECRET": TEST_JWT_SECRET, "REVORC_ENV": "test"}.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        yield url
        server.should_exit = True
    get_settings.cache_clear()


@pytest.fixture
def rep(live_api, tenant: Tenant) -> session.UserSession:
    user = session.login(tenant.user.email, PASSWORD)
    created = httpx.post(f"{live_api}/api/v1/prospects", headers={"Authorization": f"Bearer {user.token}"},
                         json={"email": "dana@acme-robotics.example", "firstName": "Dana", "lastName": "Reyes",
                               "title": "VP of Operations", "company": "Acme Robotics"})
    assert created.status_code == 201, created.text
    return user


def _page(name: str, user: session.UserSession) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.session_state[session.SESSION_KEY] = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_writer_page_generates_checks_and_sends_through_the_api(rep, owner_session):
    at = _page("ai_writer", rep)
    at.selectbox(key="ai_writer_tone").select("direct")
    at.button(key="ai_writer_generate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    draft = at.session_state["ai_writer_draft"]
    assert draft["provider"] == "offline" and draft["settings"]["tone"] == "direct"
    assert at.text_area(key="ai_writer_body").value.startswith("Hi Dana,")
    assert any("Passes every check" in s.value for s in at.success)
    assert any(f["source"].startswith("prospects#") for f in at.dataframe[0].value.to_dict("records"))

    # an edit that invents a number: re-checked by the API, the failure shown line by line, sending refused
    at.text_area(key="ai_writer_body").input(draft["body"] + "\n\nWe have 500 customers.")
    at.button(key="ai_writer_check").click().run()
    assert any("UNGROUNDED_NUMBER" in e.value for e in at.error), [e.value for e in at.error]
    at.button(key="ai_writer_send").click().run()
    assert any("Could not send" in e.value and "checker" in e.value for e in at.error), [e.value for e in at.error]

    # back to the grounded text: re-check passes, then send queues the e-mail
    at.text_area(key="ai_writer_body").input(draft["body"])
    at.button(key="ai_writer_check").click().run()
    at.button(key="ai_writer_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    sent = at.session_state["ai_writer_draft"]
    assert sent["status"] == "sent" and sent["emailId"]
    assert any("Queued for sending" in s.value for s in at.success)
    stored = owner_session.execute(text("select e.subject, e.status from app.emails e join app.ai_email_drafts d "
                                        "on d.email_id = e.id where d.id = :id"), {"id": sent["id"]}).one()
    assert stored.subject == sent["subject"]


def test_the_playground_page_runs_two_arms_and_rates_one(rep, live_api, owner_session):
    prospect_id = session.api_call("GET", "/prospects", token=rep.token)["data"][0]["id"]
    made = session.api_call("POST", "/ai/playground/experiments", token=rep.token, json={
        "name": "Two seeds", "promptTemplate": "Write to {{firstName}}.\n{{facts}}", "prospectId": prospect_id,
        "arms": [{"provider": "offline", "seed": 0}, {"provider": "offline", "seed": 3}]})

    at = _page("ai_playground", rep)
    at.selectbox(key="ai_playground_pick").select(made["id"]).run()
    at.button(key="ai_playground_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    texts = [t.value for t in at.text]
    assert len(texts) == 2 and all(t.startswith("Hi Dana,") for t in texts)
    assert sum("Checker: passes" in s.value for s in at.success) == 2

    at.radio(key="ai_playground_thumbs_1").set_value("👍")
    at.slider(key="ai_playground_score_1").set_value(5)
    at.button(key="ai_playground_rate_1").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Rated output 2" in s.value for s in at.success)
    stored = session.api_call("GET", f"/ai/playground/experiments/{made['id']}", token=rep.token)
    output = stored["runs"][-1]["outputs"][1]
    assert (output["rating"], output["score"]) == (1, 5)
    assert stored["summary"][0]["thumbsUp"] == 1
    per_model = next(d.value for d in at.dataframe if "label" in d.value.columns)
    assert per_model.to_dict("records")[0]["label"] == "offline/offline-writer-v1"
    assert per_model.to_dict("records")[0]["outputs"] == 2 and per_model.to_dict("records")[0]["thumbsUp"] == 1
