"""The Integrations page (AppTest against a real API and a local fake Calendly): the marketplace says what works;
an admin installs Calendly with its token and sees it connected with its health; a sync it cannot do is the API's
sentence; uninstall; a member reads but has no install form."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.dashboards.apptest import api_for, open_page
from tests.serving.integrations.test_calendly import FakeCalendly


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    server = FakeCalendly()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    providers = {"calendly": {"baseUrl": f"http://127.0.0.1:{server.server_address[1]}"}}
    with api_for(make_settings(settings.owner_database_url, settings.home,
                               INTEGRATION_PROVIDERS=providers)) as url:
        yield url
    server.shutdown()
    server.server_close()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_install_calendly_see_its_health_and_uninstall(api, tenant):
    at = open_page(tenant.admin, "integrations")
    market = at.dataframe[0].value
    assert set(market.loc[market["integration"] == "Calendly", "status"]) == {"Available"}
    assert set(market.loc[market["integration"] == "Pipedrive", "status"]) == {"Planned"}
    next(s for s in at.selectbox if s.label == "Install").set_value("calendly")
    next(t for t in at.text_input if t.label.startswith("API key")).set_value("cal-good")
    button(at, "Install").click().run()
    assert at.success[0].value.startswith("Install started"), [e.value for e in at.error]
    assert any("**Calendly** · Connected" in m.value for m in at.markdown)
    assert {m.label: m.value for m in at.metric}["Health"] == "100"

    button(at, "Sync now").click().run()
    assert "nothing to sync" in at.error[0].value  # the API's own sentence
    button(at, "Uninstall").click().run()
    assert at.success[0].value == "Calendly uninstalled."
    listed = httpx.get(f"{api}/api/v1/integrations", headers=tenant.admin.headers).json()
    assert listed["data"] == []


def test_a_member_reads_without_the_install_form(api, tenant):
    at = open_page(tenant.user, "integrations")
    assert not [b for b in at.button if b.label == "Install"]
    assert any("Nothing installed yet" in i.value for i in at.info)
