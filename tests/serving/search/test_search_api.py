"""Universal search end to end: records written through the API reach a real Typesense through the sync queue,
and /search finds them with typos, prefixes, facets, filters and highlights, inside the caller's organization."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import text

from serving.search.collections import ENTITIES
from tests.factories import unique_email
from tests.serving.api_keys.test_api_keys_api import create_key, key_headers

URL = "/api/v1/search"


def _make(client, member, path: str, body: dict) -> dict:
    response = client.post(f"/api/v1/{path}", json=body, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _crm(client, tenant, *, company: str = "Acme Rockets", industry: str = "Aerospace") -> dict:
    account = _make(client, tenant.user, "accounts", {"name": company, "domain": f"{company.split()[0].lower()}.io",
                                                      "industry": industry})
    prospect = _make(client, tenant.user, "prospects", {
        "email": f"jane.doe.{uuid.uuid4().hex[:6]}@{company.split()[0].lower()}.io", "firstName": "Jane",
        "lastName": "Doe", "title": "VP Engineering", "company": company, "accountId": account["id"]})
    deal = _make(client, tenant.user, "deals", {"name": f"{company} platform rollout", "amount": 120000,
                                                "accountId": account["id"], "stage": "proposal",
                                                "closeDate": date.today().isoformat()})
    return {"account": account, "prospect": prospect, "deal": deal}


def _search(client, member, **params) -> dict:
    response = client.get(URL, params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_records_are_found_across_types_with_typos_prefixes_and_highlights(search_client, tenant, drain):
    made = _crm(search_client, tenant)
    drain(tenant.organization_id)

    body = _search(search_client, tenant.user, q="acme")
    assert [h["id"] for h in body["accounts"]] == [made["account"]["id"]]
    assert [h["id"] for h in body["prospects"]] == [made["prospect"]["id"]]
    assert [h["id"] for h in body["deals"]] == [made["deal"]["id"]]
    assert body["totalResults"] == 3 + body["found"]["emails"]
    assert isinstance(body["searchTime"], int) and body["searchTime"] >= 0
    highlight = body["accounts"][0]["highlights"][0]
    assert highlight["field"] in ("name", "domain") and "<mark>" in highlight["snippet"]
    assert body["accounts"][0]["title"] == "Acme Rockets" and body["accounts"][0]["rank"] == 1
    assert "organizationId" not in body["accounts"][0]["document"]

    typo = _search(search_client, tenant.user, q="acmee rockts", types="accounts")
    assert [h["id"] for h in typo["accounts"]] == [made["account"]["id"]]
    prefix = _search(search_client, tenant.user, q="rock", types="accounts,deals")
    assert {h["id"] for h in prefix["accounts"] + prefix["deals"]} == {made["account"]["id"], made["deal"]["id"]}
    assert set(prefix) >= {"accounts", "deals"} and "prospects" not in prefix


def test_name_weighs_more_than_notes(search_client, tenant, drain):
    word = f"zeph{uuid.uuid4().hex[:6]}"
    in_name = _make(search_client, tenant.user, "accounts", {"name": f"{word} Industries"})
    in_notes = _make(search_client, tenant.user, "accounts", {"name": "Other Co", "description": f"Met {word} once"})
    drain(tenant.organization_id)
    body = _search(search_client, tenant.user, q=word, types="accounts")
    assert [h["id"] for h in body["accounts"]] == [in_name["id"], in_notes["id"]]


def test_facets_and_filters(search_client, tenant, drain):
    _crm(search_client, tenant, company="Globex", industry="Fintech")
    _crm(search_client, tenant, company="Initech", industry="Software")
    drain(tenant.organization_id)
    # no facet is counted unless asked: the search box needs none, and counting is most of a broad search's time
    assert _search(search_client, tenant.user, q="*", types="accounts")["facets"] == {}
    body = _search(search_client, tenant.user, q="*", types="accounts,deals", facets="industry")
    industries = {f["value"]: f["count"] for f in body["facets"]["accounts"]["industry"]}
    assert industries == {"Fintech": 1, "Software": 1}
    assert set(body["facets"]["accounts"]) == set(body["facets"]["deals"]) == {"industry"}
    # camelCase names as the filters take them; a name only some types have is counted on those
    stage = _search(search_client, tenant.user, q="*", types="accounts,deals", facets="forecastCategory,stage")
    assert set(stage["facets"]) == {"deals"} and set(stage["facets"]["deals"]) == {"forecast_category", "stage"}
    every = _search(search_client, tenant.user, q="*", types="accounts", facets="*")
    assert set(every["facets"]["accounts"]) == set(ENTITIES["accounts"].facets)

    filtered = _search(search_client, tenant.user, q="*", types="accounts,prospects,deals",
                       filters='{"industry": ["Fintech"]}')
    assert {h["title"] for h in filtered["accounts"]} == {"Globex"}
    assert {h["document"]["industry"] for h in filtered["prospects"] + filtered["deals"]} == {"Fintech"}

    text_form = _search(search_client, tenant.user, q="*", types="deals", filters="stage:proposal|negotiation")
    assert len(text_form["deals"]) == 2
    created = _search(search_client, tenant.user, q="*", types="deals",
                      filters=f'{{"createdAt": {{"gte": "{(date.today() + timedelta(days=1)).isoformat()}"}}}}')
    assert created["deals"] == []


def test_bad_filters_and_types_are_clear_validation_errors(search_client, tenant):
    for params, field in ((dict(q="x", filters="{not json"), "filters"),
                          (dict(q="x", filters='{"password": "x"}'), "filters"),
                          (dict(q="x", filters='{"createdAt": "yesterday"}'), "filters.created_at"),
                          (dict(q="x", filters='{"amount": {"gte": "lots"}}', types="deals"), "filters.amount"),
                          (dict(q="x", types="prospects,invoices"), "types"),
                          (dict(q="x", facets="password"), "facets"),
                          (dict(q="x", types="accounts", facets="stage"), "facets"),
                          (dict(q="x", perPage=500), None)):
        response = search_client.get(URL, params=params, headers=tenant.user.headers)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["message"]
        if field:
            assert error["details"]["field"] == field, error


def test_updates_deletes_and_account_renames_reach_the_index(search_client, tenant, drain):
    made = _crm(search_client, tenant, company="Umbrella")
    drain(tenant.organization_id)
    headers = tenant.user.headers
    assert search_client.put(f"/api/v1/accounts/{made['account']['id']}", json={"name": "Vandelay Imports"},
                             headers=headers).status_code == 200
    assert search_client.delete(f"/api/v1/deals/{made['deal']['id']}", headers=headers).status_code == 204
    drain(tenant.organization_id)

    # the old name is gone from the document (the domain, umbrella.io, still matches)
    old = _search(search_client, tenant.user, q="umbrella", types="accounts")["accounts"]
    assert [(h["title"], h["highlights"][0]["field"]) for h in old] == [("Vandelay Imports", "domain")]
    renamed = _search(search_client, tenant.user, q="vandelay")
    assert [h["id"] for h in renamed["accounts"]] == [made["account"]["id"]]
    # the prospect's document carries its account's name, so the rename reached it too
    assert [h["id"] for h in renamed["prospects"]] == [made["prospect"]["id"]]
    assert renamed["deals"] == []


def test_another_organizations_records_are_never_found(search_client, tenant, other_tenant, drain, index,
                                                         search_tenant):
    secret = f"quux{uuid.uuid4().hex[:6]}"
    _crm(search_client, tenant, company=f"{secret} Holdings")
    _crm(search_client, other_tenant, company="Other Holdings")
    drain(tenant.organization_id)
    drain(other_tenant.organization_id)

    assert _search(search_client, other_tenant.user, q=secret)["totalResults"] == 0
    hostile = (f'{{"industry": ["Aerospace` || organization_id:={tenant.organization_id} || industry:=`x"]}}')
    assert _search(search_client, other_tenant.user, q="*", types="accounts", filters=hostile)["accounts"] == []

    # straight to Typesense with org B's scoped key and a hostile filter: the embedded filter still applies
    mine, theirs = search_tenant(other_tenant.organization_id), search_tenant(tenant.organization_id)
    assert mine != theirs
    key, _ = index.scoped_key(mine)
    for filter_by in (f"organization_id:={tenant.organization_id}",
                      f"organization_id:={tenant.organization_id} || organization_id:={other_tenant.organization_id}",
                      f"organization_id:!={other_tenant.organization_id}",
                      f"tenant:={theirs}", f"tenant:={theirs} || tenant:={mine}", f"tenant:<{mine} || tenant:>{mine}",
                      f"tenant:>0 || organization_id:={tenant.organization_id}",
                      # breaking out of the parentheses Typesense puts around the request's filter
                      "tenant:>0) || (tenant:>0", f"name:*) || (organization_id:={tenant.organization_id}"):
        response = httpx.get(f"{index.url}/collections/{index.alias('accounts')}/documents/search",
                             params={"q": "*", "query_by": "name", "filter_by": filter_by, "per_page": 250},
                             headers={"X-TYPESENSE-API-KEY": key})
        assert response.status_code == 200, response.text
        orgs = {hit["document"]["organization_id"] for hit in response.json()["hits"]}
        assert str(tenant.organization_id) not in orgs
    # and the scoped key cannot write or read anything else
    forbidden = httpx.post(f"{index.url}/collections/{index.alias('accounts')}/documents",
                           json={"id": "x", "name": "x"}, headers={"X-TYPESENSE-API-KEY": key})
    assert forbidden.status_code in (401, 403)


def test_each_type_needs_its_own_read_scope(search_client, tenant, drain):
    _crm(search_client, tenant, company="Scoped Corp")
    drain(tenant.organization_id)
    key = create_key(search_client, tenant.user, scopes=["search:read", "prospects:read"])["key"]
    response = search_client.get(URL, params={"q": "scoped"}, headers=key_headers(key))
    assert response.status_code == 200, response.text
    body = response.json()
    # e-mails are read with prospects:read (as GET /emails); accounts, deals and documents need their own scopes
    assert set(body["found"]) == {"prospects", "emails"} and len(body["prospects"]) == 1
    refused = search_client.get(URL, params={"q": "scoped", "types": "deals"}, headers=key_headers(key))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    no_search = create_key(search_client, tenant.user, scopes=["prospects:read"])["key"]
    assert search_client.get(URL, params={"q": "x"}, headers=key_headers(no_search)).status_code == 403


def test_an_email_address_or_domain_jumps_to_its_record(search_client, tenant, drain):
    made = _crm(search_client, tenant, company="Jumpco")
    drain(tenant.organization_id)
    by_email = _search(search_client, tenant.user, q=made["prospect"]["email"].upper())
    assert by_email["jumpTo"] == {"type": "prospect", "id": made["prospect"]["id"]}
    assert by_email["understood"]["phrases"][0]["meaning"] == "e-mail address"
    by_domain = _search(search_client, tenant.user, q="https://www.jumpco.io/pricing")
    assert by_domain["jumpTo"] == {"type": "account", "id": made["account"]["id"]}
    assert [h["id"] for h in by_domain["prospects"]] == [made["prospect"]["id"]]


def test_phrases_become_filters_and_the_response_says_so(search_client, tenant, drain):
    this_month = _crm(search_client, tenant, company="Closeco", industry="Fintech")
    later = _make(search_client, tenant.user, "deals", {
        "name": "Closeco expansion", "amount": 5000, "stage": "discovery",
        "closeDate": (date.today() + timedelta(days=100)).isoformat()})
    drain(tenant.organization_id)
    body = _search(search_client, tenant.user, q="deals closing this month")
    assert set(body["found"]) == {"deals"}
    assert [h["id"] for h in body["deals"]] == [this_month["deal"]["id"]]
    assert later["id"] not in {h["id"] for h in body["deals"]}
    assert {p["meaning"].split(" from ")[0] for p in body["understood"]["phrases"]} >= {"close date", "type deals"}
    assert body["understood"]["text"] == "*"

    big = _search(search_client, tenant.user, q="closeco deals over 100k")
    assert [h["id"] for h in big["deals"]] == [this_month["deal"]["id"]]

    with tenant.session() as session, session.begin():
        session.execute(text("update app.prospects set intent_tier = 'hot' where id = :id"),
                        {"id": this_month["prospect"]["id"]})
    drain(tenant.organization_id)
    hot = _search(search_client, tenant.user, q="hot prospects in fintech")
    assert set(hot["found"]) == {"prospects"}
    assert [h["id"] for h in hot["prospects"]] == [this_month["prospect"]["id"]]
    assert {p["meaning"] for p in hot["understood"]["phrases"]} >= {"industry Fintech", "type prospects"}


def test_suggestions_complete_names_and_popular_queries(search_client, tenant, drain):
    _crm(search_client, tenant, company="Sprocketworks")
    drain(tenant.organization_id)
    for _ in range(2):
        _search(search_client, tenant.user, q="sprocketworks rollout")
    response = search_client.get(f"{URL}/suggestions", params={"q": "sproc"}, headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    suggestions = response.json()["suggestions"]
    names = {s["text"] for s in suggestions if s["kind"] == "record"}
    assert "Sprocketworks" in names and "Sprocketworks platform rollout" in names
    assert {"text": "sprocketworks rollout", "kind": "popular_query"} in suggestions


def test_saved_searches_belong_to_their_user(search_client, tenant):
    body = {"name": "Hot fintech", "query": "hot prospects", "types": ["prospects"],
            "filters": {"industry": ["Fintech"]}}
    created = search_client.post(f"{URL}/saved", json=body, headers=tenant.user.headers)
    assert created.status_code == 201, created.text
    saved = created.json()
    listed = search_client.get(f"{URL}/saved", headers=tenant.user.headers).json()["data"]
    assert [s["id"] for s in listed] == [saved["id"]] and listed[0]["filters"] == body["filters"]
    assert search_client.get(f"{URL}/saved", headers=tenant.admin.headers).json()["data"] == []
    assert search_client.delete(f"{URL}/saved/{saved['id']}", headers=tenant.admin.headers).status_code == 404
    bad = search_client.post(f"{URL}/saved", json={**body, "filters": {"stage": ["won"]}}, headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert search_client.delete(f"{URL}/saved/{saved['id']}", headers=tenant.user.headers).status_code == 204
    assert search_client.get(f"{URL}/saved", headers=tenant.user.headers).json()["data"] == []


def test_analytics_count_searches_clicks_zero_results_and_refinements(search_client, tenant, drain):
    made = _crm(search_client, tenant, company="Analytix")
    drain(tenant.organization_id)
    first = _search(search_client, tenant.user, q="analytx")
    _search(search_client, tenant.user, q="analytix")
    none = _search(search_client, tenant.user, q="nothing-matches-this-zzq")
    assert none["totalResults"] == 0
    click = search_client.post(f"{URL}/clicks", json={"searchId": first["searchId"], "type": "accounts",
                                                      "id": made["account"]["id"], "rank": 1},
                               headers=tenant.user.headers)
    assert click.status_code == 204, click.text

    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    response = search_client.get(f"{URL}/analytics", params={"since": since}, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["searches"] == 3
    assert {"query": "nothing-matches-this-zzq", "searches": 1} in [
        {k: v for k, v in s.items() if k in ("query", "searches")} for s in stats["zeroResultSearches"]]
    assert stats["clickThroughByPosition"] == [{"position": 1, "clicks": 1, "clickThroughRate": 1 / 3}]
    assert {"query": "analytx", "nextQuery": "analytix", "count": 1} in stats["refinements"]
    assert stats["zeroResultRate"] == 1 / 3 and stats["avgSearchTime"] >= 0


def test_clicks_on_unknown_searches_are_not_found(search_client, tenant):
    response = search_client.post(f"{URL}/clicks", json={"searchId": str(uuid.uuid4()), "type": "accounts",
                                                         "id": str(uuid.uuid4()), "rank": 1},
                                  headers=tenant.user.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_search_without_typesense_is_a_clear_503(client, tenant):
    response = client.get(URL, params={"q": "x"}, headers=tenant.user.headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SEARCH_UNAVAILABLE"


def test_new_prospects_from_csv_imports_are_indexed(search_client, tenant, drain):
    email = unique_email("csvperson")
    csv_body = f"email,first_name,last_name,company\n{email},Csv,Person,Importco\n"
    response = search_client.post("/api/v1/prospects/import", files={"file": ("p.csv", csv_body, "text/csv")},
                                  headers=tenant.user.headers)
    assert response.status_code in (200, 201), response.text
    drain(tenant.organization_id)
    assert _search(search_client, tenant.user, q="importco", types="prospects")["found"]["prospects"] == 1


def test_documents_are_searched_by_words_and_by_meaning(search_client, tenant, drain):
    sso = search_client.post("/api/v1/knowledge/sources", headers=tenant.user.headers, json={
        "title": "Single sign-on", "text": "Administrators connect the workspace to their identity provider with "
                                           "SAML 2.0 or OpenID Connect and then require it for every member."})
    assert sso.status_code == 201, sso.text
    search_client.post("/api/v1/knowledge/sources", headers=tenant.user.headers, json={
        "title": "Shipping", "text": "Rockets ship from the Florida plant within six weeks of the order."})
    drain(tenant.organization_id)

    by_word = _search(search_client, tenant.user, q="openid", types="documents")
    assert [h["title"] for h in by_word["documents"]] == ["Single sign-on"]
    assert by_word["documents"][0]["semantic"] is False and "<mark>" in by_word["documents"][0]["highlights"][0][
        "snippet"]

    # no word of the question is in the document: keyword search alone finds nothing
    question = "how do I configure SSO login"
    keyword_only = _search(search_client, tenant.user, q=question, types="documents", filters="sourceType:document")
    assert keyword_only["documents"] == []
    hybrid = _search(search_client, tenant.user, q=question, types="documents")
    assert [h["title"] for h in hybrid["documents"]][:1] == ["Single sign-on"]
    assert hybrid["documents"][0]["semantic"] is True and hybrid["documents"][0]["document"]["similarity"] > 0.3
    assert "Shipping" not in [h["title"] for h in hybrid["documents"]]
    assert hybrid["found"]["documents"] == len(hybrid["documents"])
