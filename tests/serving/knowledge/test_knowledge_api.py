"""The knowledge base end to end with the real offline model and pgvector: documents are chunked and embedded,
`POST /knowledge/search` finds them by meaning, inside the caller's organization only."""

from __future__ import annotations

from sqlalchemy import text

URL = "/api/v1/knowledge"

SSO = ("Setting up single sign-on. Administrators connect the workspace to their identity provider with SAML 2.0 "
       "or OpenID Connect: upload the provider's metadata, map the e-mail attribute, then require it for everyone.")
PRICING = ("Our pricing has three tiers. Starter costs 49 dollars a month for up to one thousand prospects; Pro "
           "costs 199 dollars a month; Enterprise is priced by contract.")
SHIPPING = "Rockets ship from our Florida plant within six weeks of the order, fuelled and tested."


def _add(client, member, title: str, body: str, **extra) -> dict:
    response = client.post(f"{URL}/sources", json={"title": title, "text": body, **extra}, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _search(client, member, query: str, **extra) -> dict:
    response = client.post(f"{URL}/search", json={"query": query, **extra}, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_paraphrase_finds_the_document_keyword_search_would_miss(client, tenant):
    sso = _add(client, tenant.user, "Single sign-on", SSO)
    _add(client, tenant.user, "Pricing", PRICING)
    _add(client, tenant.user, "Shipping", SHIPPING)
    assert sso["chunks"] == 1 and sso["sourceType"] == "document"

    body = _search(client, tenant.user, "How do I configure SSO?", threshold=-1, limit=3)
    assert body["matches"][0]["sourceId"] == sso["id"]
    assert not {"configure", "sso"} & set(SSO.lower().replace(".", " ").split())  # no shared keyword
    assert body["matches"][0]["similarity"] > body["matches"][1]["similarity"] + 0.1
    similarities = [m["similarity"] for m in body["matches"]]
    assert similarities == sorted(similarities, reverse=True)

    pricing = _search(client, tenant.user, "how much does the product cost per month", threshold=0.3, limit=1)
    assert pricing["matches"][0]["title"] == "Pricing"


def test_threshold_limit_and_tenancy(client, tenant, other_tenant):
    _add(client, tenant.user, "Single sign-on", SSO)
    assert _search(client, tenant.user, "How do I configure SSO?", threshold=0.99)["matches"] == []
    assert _search(client, other_tenant.user, "How do I configure SSO?", threshold=-1)["matches"] == []
    long_text = " ".join(f"Paragraph {i} about rocket engines and their maintenance schedule." for i in range(200))
    many = _add(client, tenant.user, "Engines", long_text)
    assert many["chunks"] > 5
    assert len(_search(client, tenant.user, "rocket engine maintenance", threshold=0, limit=4)["matches"]) == 4


def test_changed_text_replaces_the_chunks_and_unchanged_text_is_not_embedded_again(client, tenant):
    first = _add(client, tenant.user, "Policy", SSO, url="https://example.com/policy")
    again = _add(client, tenant.user, "Policy", SSO, url="https://example.com/policy")
    assert again["id"] == first["id"] and again["chunks"] == 0
    changed = _add(client, tenant.user, "Policy", PRICING, url="https://example.com/policy")
    assert changed["id"] == first["id"] and changed["chunks"] == 1
    with tenant.session() as session, session.begin():
        contents = session.execute(text("select content from app.knowledge_documents where source_id = :id"),
                                   {"id": first["id"]}).scalars().all()
    assert contents == [PRICING]


def test_sources_list_and_delete(client, tenant):
    source = _add(client, tenant.user, "Shipping", SHIPPING)
    listed = client.get(f"{URL}/sources", headers=tenant.viewer.headers).json()
    assert [s["id"] for s in listed["data"]] == [source["id"]]
    assert client.delete(f"{URL}/sources/{source['id']}", headers=tenant.viewer.headers).status_code == 403
    assert client.delete(f"{URL}/sources/{source['id']}", headers=tenant.user.headers).status_code == 204
    assert client.delete(f"{URL}/sources/{source['id']}", headers=tenant.user.headers).status_code == 404
    assert _search(client, tenant.user, "when do rockets ship", threshold=-1)["matches"] == []


def test_bad_input_is_a_validation_error(client, tenant):
    for body in ({"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "threshold": 2}, {"query": "x", "k": 1}):
        response = client.post(f"{URL}/search", json=body, headers=tenant.user.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR", body
    blank = client.post(f"{URL}/sources", json={"title": "t", "text": "   "}, headers=tenant.user.headers)
    assert blank.status_code == 422
