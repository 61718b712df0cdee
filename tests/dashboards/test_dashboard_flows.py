"""The Flows page (AppTest against a real API): an admin creates a flow from a YAML document, runs it, enables it
and watches the execution's step log; a bad document shows the API's reason; a viewer sees the flows but no
actions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dashboards.apptest import api_for, open_page
from tests.serving.automations.conftest import run_queued

DOCUMENT = """apiVersion: revorc.dev/flows/v1
kind: Flow
metadata: {name: Page flow, description: made on the page}
spec:
  trigger: {type: manual}
  steps:
  - {id: greet, type: transform, set: {hello: "{{ execution.triggerType }} run"}}
"""


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_an_admin_creates_runs_and_watches_a_flow(api, settings, tenant, owner_session):
    at = open_page(tenant.admin, "flows")
    assert any("No flows yet" in i.value for i in at.info)
    at.text_area[0].set_value(DOCUMENT)
    button(at, "Save flow").click().run()
    assert not at.exception and at.success[0].value == "“Page flow” created."
    assert any("**Page flow** · v1 · Manual" in m.value for m in at.markdown)

    button(at, "Run now").click().run()
    assert at.success[0].value.startswith("“Page flow” queued")
    assert run_queued(settings, owner_session, tenant) == ["succeeded"]
    button(at, "Enable").click().run()
    assert at.success[0].value == "“Page flow” enabled." and "Disable" in [b.label for b in at.button]

    next(t for t in at.toggle if t.label == "Executions").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    runs, log = at.dataframe[0].value, at.dataframe[1].value
    assert list(runs["status"]) == ["succeeded"] and list(runs["trigger"]) == ["manual"]
    assert list(log["id"]) == ["greet"] and "manual run" in log["output"][0]

    at.text_area[0].set_value(DOCUMENT.replace("type: transform", "type: teleport"))
    button(at, "Save flow").click().run()
    assert at.error and "spec.steps[0]" in at.error[0].value


def test_a_viewer_sees_flows_without_actions(api, tenant):
    at = open_page(tenant.admin, "flows")
    at.text_area[0].set_value(DOCUMENT.replace("Page flow", "Viewer flow"))
    button(at, "Save flow").click().run()
    viewer = open_page(tenant.viewer, "flows")
    assert any("**Viewer flow**" in m.value for m in viewer.markdown)
    labels = [b.label for b in viewer.button]
    assert "Run now" not in labels and "Enable" not in labels and "Save flow" not in labels
