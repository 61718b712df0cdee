"""The Integrations page (AppTest against a real API and a local fake Calendly): the marketplace says what works;
an admin installs Calendly with its token and sees it connected with its health; a sync it cannot do is the API's
sentence; uninstall; a member reads but has no install form."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from serving.enrichment.models import EnrichmentRequest
from serving.prospects.models import Prospect
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


def test_an_admin_sets_up_an_enrichment_provider_and_sees_its_spend(api, tenant):
    at = open_page(tenant.admin, "integrations")
    assert any("No enrichment provider set up" in i.value for i in at.info)
    next(s for s in at.selectbox if s.label == "Provider").set_value("hunter")
    next(t for t in at.text_input if t.label.startswith("API key (empty")).set_value("hunter-secret-4242")
    next(n for n in at.number_input if n.label.startswith("Priority")).set_value(3)
    next(n for n in at.number_input if n.label.startswith("Cost per request")).set_value(2)
    next(n for n in at.number_input if n.label.startswith("Monthly cap")).set_value(500)
    button(at, "Save provider").click().run()
    assert at.success[0].value == "Hunter saved.", [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "key" in d.value.columns)
    assert table.to_dict("records") == [{"provider": "Hunter", "enabled": "yes", "priority": 3, "key": "…4242",
                                         "cost per request": "$0.02", "monthly cap": "$5.00"}]
    stored = httpx.get(f"{api}/api/v1/enrichment/providers", headers=tenant.admin.headers).json()["data"]
    assert [(p["provider"], p["keyHint"], p["priority"]) for p in stored] == [("hunter", "…4242", 3)]

    prospect = tenant.add(Prospect, email="ada@acme.io")
    tenant.add(EnrichmentRequest, prospect_id=prospect.id, provider="hunter", status="ok", cost_cents=2,
               fields_returned=["email"])
    member = open_page(tenant.user, "integrations")  # members read, without the form
    assert not [b for b in member.button if b.label == "Save provider"]
    assert any("key" in d.value.columns for d in member.dataframe)
    assert "This month's spend per provider" in [c.value for c in member.caption]
    usage = next(d.value for d in member.dataframe if "matches" in d.value.columns)
    assert usage.to_dict("records") == [{"provider": "Hunter", "requests": 1, "served from cache": 0, "matches": 1}]
