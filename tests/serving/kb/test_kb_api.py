"""The support knowledge base end to end on the real database (row-level security, pgvector) and the real offline
embedding model: roles, tenancy, sanitized rendering, versions with diff and restore, votes, related articles,
analytics and the unauthenticated public portal."""

from __future__ import annotations

import uuid

from sqlalchemy import text

URL = "/api/v1/kb"

SSO = ("# Single sign-on\n\nAdministrators connect the workspace to their identity provider with SAML 2.0 or "
       "OpenID Connect: upload the provider's metadata, map the e-mail attribute, then require it for everyone.")
SAML = ("# Configure SAML with Okta\n\nCreate a SAML application in Okta, paste our metadata URL, map the e-mail "
        "attribute and assign the people who may sign in through the identity provider.")
BILLING = ("# Change your billing plan\n\nOpen Settings, then Billing, and pick the Starter, Pro or Enterprise plan; "
           "the invoice is prorated to the day.")


def _post(client, member, path: str, body: dict | None = None, status: int = 201) -> dict:
    response = client.post(f"{URL}{path}", json=body or {}, headers=member.headers)
    assert response.status_code == status, response.text
    return response.json()


def _article(client, member, title: str, body: str, **extra) -> dict:
    return _post(client, member, "/articles", {"title": title, "bodyMarkdown": body, **extra})


def _published(client, member, title: str, body: str, **extra) -> dict:
    article = _article(client, member, title, body, **extra)
    return _post(client, member, f"/articles/{article['id']}/publish", status=200)


def _slug(tenant) -> str:
    with tenant.session() as session, session.begin():
        return session.scalar(text("select slug from app.organizations where id = :id"),
                              {"id": tenant.organization_id})


def test_articles_are_rendered_sanitized_and_roles_apply(client, tenant):
    hostile = "Hello <script>alert(1)</script><img src=x onerror=alert(2)> <a href=\"javascript:alert(3)\">x</a>"
    assert client.post(f"{URL}/articles", json={"title": "T", "bodyMarkdown": "b"},
                       headers=tenant.viewer.headers).status_code == 403
    article = _article(client, tenant.user, "Reset your password!", hostile, metaDescription="How to reset")
    assert article["slug"] == "reset-your-password" and article["status"] == "draft" and article["version"] == 1
    assert "<script" not in article["bodyHtml"] and "onerror" not in article["bodyHtml"]
    assert "javascript" not in article["bodyHtml"] and article["bodyHtml"].startswith("<p>Hello")
    assert article["excerpt"] == "Hello x" and article["bodyMarkdown"] == hostile

    # a draft is the writers' business
    assert client.get(f"{URL}/articles/{article['id']}", headers=tenant.viewer.headers).status_code == 404
    assert client.get(f"{URL}/articles", headers=tenant.viewer.headers).json()["data"] == []
    assert [a["id"] for a in client.get(f"{URL}/articles", headers=tenant.user.headers).json()["data"]] == \
        [article["id"]]
    published = _post(client, tenant.user, f"/articles/{article['id']}/publish", status=200)
    assert published["status"] == "published" and published["publishedAt"]
    seen = client.get(f"{URL}/articles/by-slug/reset-your-password", headers=tenant.viewer.headers)
    assert seen.status_code == 200 and seen.json()["viewCount"] == 1
    assert seen.json()["updatedAt"] == published["updatedAt"]  # a read is not an edit

    # slugs: made unique when generated, a conflict when asked for
    again = _article(client, tenant.user, "Reset your password", "Another body.")
    assert again["slug"] == "reset-your-password-2"
    conflict = client.post(f"{URL}/articles", json={"title": "X", "bodyMarkdown": "y", "slug": "reset-your-password"},
                           headers=tenant.user.headers)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "CONFLICT"
    bad = client.post(f"{URL}/articles", json={"title": "X", "bodyMarkdown": "y", "categoryId": str(uuid.uuid4())},
                      headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "categoryId"
    for body in ({"title": "", "bodyMarkdown": "y"}, {"title": "X", "bodyMarkdown": "y", "slug": "Not A Slug"},
                 {"title": "X", "bodyMarkdown": "y", "visibility": "secret"}, {"title": "X"}):
        response = client.post(f"{URL}/articles", json=body, headers=tenant.user.headers)
        assert response.status_code == 422 and response.json()["success"] is False, body

    # archive hides it from readers; only admins delete
    _post(client, tenant.user, f"/articles/{article['id']}/archive", status=200)
    assert client.get(f"{URL}/articles/{article['id']}", headers=tenant.viewer.headers).status_code == 404
    assert client.delete(f"{URL}/articles/{article['id']}", headers=tenant.user.headers).status_code == 403
    assert client.delete(f"{URL}/articles/{article['id']}", headers=tenant.admin.headers).status_code == 204
    assert client.get(f"{URL}/articles/{article['id']}", headers=tenant.admin.headers).status_code == 404


def test_another_organization_can_neither_read_nor_change_an_article(client, tenant, other_tenant):
    article = _published(client, tenant.user, "Single sign-on", SSO, visibility="public")
    category = _post(client, tenant.user, "/categories", {"name": "Security"})
    path = f"{URL}/articles/{article['id']}"
    outsider = other_tenant.admin.headers
    assert client.get(path, headers=outsider).status_code == 404
    assert client.patch(path, json={"title": "Hacked"}, headers=outsider).status_code == 404
    assert client.post(f"{path}/vote", json={"helpful": False}, headers=outsider).status_code == 404
    assert client.post(f"{path}/archive", headers=outsider).status_code == 404
    assert client.get(f"{path}/versions", headers=outsider).status_code == 404
    assert client.get(f"{path}/related", headers=outsider).status_code == 404
    assert client.post(f"{path}/versions/1/restore", headers=outsider).status_code == 404
    assert client.delete(path, headers=outsider).status_code == 404
    assert client.get(f"{URL}/articles", headers=outsider).json()["data"] == []
    assert client.get(f"{URL}/categories", headers=outsider).json()["data"] == []
    assert client.patch(f"{URL}/categories/{category['id']}", json={"name": "x"}, headers=outsider).status_code == 404
    moved = client.post(f"{URL}/articles", json={"title": "Mine", "bodyMarkdown": "x", "categoryId": category["id"]},
                        headers=other_tenant.user.headers)
    assert moved.status_code == 422  # another organization's category does not exist for it
    assert client.get(f"{URL}/analytics", headers=outsider).json()["articles"]["published"] == 0
    unchanged = client.get(path, headers=tenant.user.headers).json()
    assert unchanged["title"] == "Single sign-on" and unchanged["status"] == "published"
    assert unchanged["helpfulCount"] == unchanged["unhelpfulCount"] == 0


def test_every_content_save_is_a_version_with_diff_and_restore(client, tenant):
    article = _article(client, tenant.user, "Exports", "Line one.\nLine two.\n")
    path = f"{URL}/articles/{article['id']}"
    v2 = client.patch(path, json={"bodyMarkdown": "Line one.\nLine 2, rewritten.\n"}, headers=tenant.user.headers)
    assert v2.status_code == 200 and v2.json()["version"] == 2
    v3 = client.patch(path, json={"title": "Exporting data"}, headers=tenant.admin.headers).json()
    assert v3["version"] == 3
    same = client.patch(path, json={"visibility": "public", "metaDescription": "CSV"}, headers=tenant.user.headers)
    assert same.json()["version"] == 3 and same.json()["visibility"] == "public"  # not content: no version

    versions = client.get(f"{path}/versions", headers=tenant.viewer.headers)
    assert versions.status_code == 404  # a draft: viewers do not see it, nor its history
    versions = client.get(f"{path}/versions", headers=tenant.user.headers).json()["data"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["authorId"] == str(tenant.admin.id) and versions[0]["title"] == "Exporting data"

    diff = client.get(f"{path}/diff", params={"from": 1, "to": 2}, headers=tenant.user.headers).json()
    assert "-Line two.\n" in diff["diff"] and "+Line 2, rewritten.\n" in diff["diff"] and " Line one.\n" in diff["diff"]
    assert diff["titleChanged"] is False
    titled = client.get(f"{path}/diff", params={"from": 2, "to": 3}, headers=tenant.user.headers).json()
    assert titled["titleChanged"] and titled["diff"] == "" and titled["toTitle"] == "Exporting data"
    missing = client.get(f"{path}/diff", params={"from": 1, "to": 9}, headers=tenant.user.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"

    restored = _post(client, tenant.user, f"/articles/{article['id']}/versions/1/restore", status=200)
    assert restored["version"] == 4 and restored["title"] == "Exports"
    assert restored["bodyMarkdown"] == "Line one.\nLine two." and "Line two." in restored["bodyHtml"]
    v4 = client.get(f"{path}/versions/4", headers=tenant.user.headers).json()
    assert v4["restoredFrom"] == 1 and v4["bodyMarkdown"] == "Line one.\nLine two."
    assert client.get(f"{path}/versions/2", headers=tenant.user.headers).json()["bodyMarkdown"] == \
        "Line one.\nLine 2, rewritten."  # history is never rewritten
    assert client.post(f"{path}/versions/9/restore", headers=tenant.user.headers).status_code == 404
    assert client.post(f"{path}/versions/1/restore", headers=tenant.viewer.headers).status_code == 403


def test_one_vote_per_voter_that_can_change(client, tenant):
    article = _published(client, tenant.user, "Billing", BILLING, visibility="public")
    vote = f"/articles/{article['id']}/vote"
    first = _post(client, tenant.user, vote, {"helpful": True}, status=200)
    again = _post(client, tenant.user, vote, {"helpful": True}, status=200)
    assert (first["helpfulCount"], again["helpfulCount"], again["unhelpfulCount"]) == (1, 1, 0)
    changed = _post(client, tenant.user, vote, {"helpful": False}, status=200)
    assert (changed["helpfulCount"], changed["unhelpfulCount"]) == (0, 1)
    viewer = _post(client, tenant.viewer, vote, {"helpful": True}, status=200)
    assert (viewer["helpfulCount"], viewer["unhelpfulCount"]) == (1, 1)

    public = f"{URL}/public/{_slug(tenant)}/articles/{article['slug']}/vote"
    for _ in range(2):
        response = client.post(public, json={"helpful": True, "visitorId": "visitor-1234abcd"})
        assert response.status_code == 200, response.text
    assert response.json()["helpfulCount"] == 2
    assert client.post(public, json={"helpful": True, "visitorId": "x"}).status_code == 422
    with tenant.session() as session, session.begin():
        votes = session.execute(text("select voter, helpful from app.knowledge_base_article_votes "
                                     "where article_id = :id order by voter"), {"id": article["id"]}).all()
    assert sorted(helpful for _, helpful in votes) == [False, True, True]
    assert {voter.split(":")[0] for voter, _ in votes} == {"user", "visitor"}


def test_related_articles_by_meaning_in_the_organization_published_only(client, tenant, other_tenant):
    sso = _published(client, tenant.user, "Single sign-on", SSO)
    saml = _published(client, tenant.user, "Configure SAML with Okta", SAML)
    billing = _published(client, tenant.user, "Change your billing plan", BILLING)
    draft = _article(client, tenant.user, "SAML single sign-on draft", SAML)
    theirs = _published(client, other_tenant.user, "Single sign-on with SAML", SAML)

    related = client.get(f"{URL}/articles/{sso['id']}/related", headers=tenant.viewer.headers)
    assert related.status_code == 200, related.text
    ids = [r["id"] for r in related.json()["data"]]
    assert ids == [saml["id"], billing["id"]]  # nearest first; no draft, no other organization, not itself
    assert draft["id"] not in ids and theirs["id"] not in ids
    similarities = [r["similarity"] for r in related.json()["data"]]
    assert similarities[0] > similarities[1] + 0.1
    assert len(client.get(f"{URL}/articles/{sso['id']}/related", params={"limit": 1},
                          headers=tenant.user.headers).json()["data"]) == 1
    assert client.get(f"{URL}/articles/{sso['id']}/related", params={"limit": 0},
                      headers=tenant.user.headers).status_code == 422


def test_public_portal_serves_public_published_articles_without_authentication(client, tenant, other_tenant):
    public = _published(client, tenant.user, "Single sign-on", SSO, visibility="public")
    _published(client, tenant.user, "Internal runbook", "Only for staff.", visibility="internal")
    _published(client, tenant.user, "Portal article", "For signed-in customers.", visibility="portal")
    draft = _article(client, tenant.user, "Draft", "Not yet.", visibility="public")
    slug = _slug(tenant)

    listed = client.get(f"{URL}/public/{slug}/articles")
    assert listed.status_code == 200, listed.text
    assert [a["slug"] for a in listed.json()["data"]] == [public["slug"]]
    assert "bodyMarkdown" not in listed.json()["data"][0] and "id" not in listed.json()["data"][0]
    by_id = client.get(f"{URL}/public/{tenant.organization_id}/articles")
    assert [a["slug"] for a in by_id.json()["data"]] == [public["slug"]]

    one = client.get(f"{URL}/public/{slug}/articles/{public['slug']}", params={"visitorId": "visitor-abcdef12"})
    assert one.status_code == 200 and one.json()["bodyHtml"].startswith("<h1>Single sign-on</h1>")
    # no customer-portal sign-in exists yet: portal articles are for the organization's signed-in users
    assert client.get(f"{URL}/articles/by-slug/portal-article", headers=tenant.viewer.headers).status_code == 200
    for hidden in ("internal-runbook", "portal-article", draft["slug"], "nothing-here"):
        response = client.get(f"{URL}/public/{slug}/articles/{hidden}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND", hidden
    # an organization without public articles, or none at all, is not found (nothing to enumerate)
    for organization in (_slug(other_tenant), "no-such-organization", str(uuid.uuid4())):
        assert client.get(f"{URL}/public/{organization}/articles").status_code == 404

    stats = client.get(f"{URL}/analytics", headers=tenant.viewer.headers).json()
    assert stats["articles"] == {"draft": 1, "published": 3, "archived": 0}
    assert stats["views"] == stats["totalViews"] == 2
    assert {(a["id"], a["views"]) for a in stats["topArticles"]} >= {(public["id"], 1)}
    with tenant.session() as session, session.begin():
        view = session.execute(text("select source, visitor_id from app.knowledge_base_article_views "
                                    "where article_id = :id"), {"id": public["id"]}).one()
    assert tuple(view) == ("public", "visitor-abcdef12")


def test_analytics_ranks_views_and_unhelpful_votes(client, tenant):
    good = _published(client, tenant.user, "Single sign-on", SSO)
    poor = _published(client, tenant.user, "Change your billing plan", BILLING)
    for _ in range(3):
        client.get(f"{URL}/articles/{good['id']}", headers=tenant.viewer.headers)
    client.get(f"{URL}/articles/{poor['id']}", headers=tenant.viewer.headers)
    _post(client, tenant.user, f"/articles/{good['id']}/vote", {"helpful": True}, status=200)
    _post(client, tenant.user, f"/articles/{poor['id']}/vote", {"helpful": False}, status=200)
    _post(client, tenant.viewer, f"/articles/{poor['id']}/vote", {"helpful": False}, status=200)

    stats = client.get(f"{URL}/analytics", params={"days": 7}, headers=tenant.viewer.headers).json()
    assert stats["views"] == 4 and stats["helpfulVotes"] == 1 and stats["unhelpfulVotes"] == 2
    assert stats["helpfulness"] == round(1 / 3, 4)
    assert [(a["id"], a["views"]) for a in stats["topArticles"]] == [(good["id"], 3), (poor["id"], 1)]
    assert [(a["id"], a["unhelpfulCount"], a["helpfulness"]) for a in stats["mostUnhelpful"]] == [(poor["id"], 2, 0.0)]
    assert client.get(f"{URL}/analytics", params={"days": 0}, headers=tenant.viewer.headers).status_code == 422


def test_category_tree_moves_and_deletes(client, tenant):
    root = _post(client, tenant.user, "/categories", {"name": "Getting started", "position": 2})
    first = _post(client, tenant.user, "/categories", {"name": "Account", "position": 1})
    child = _post(client, tenant.user, "/categories", {"name": "Sign-in", "parentId": root["id"]})
    leaf = _post(client, tenant.user, "/categories", {"name": "SSO", "slug": "sso", "parentId": child["id"]})
    assert root["slug"] == "getting-started"
    _published(client, tenant.user, "Single sign-on", SSO, categoryId=leaf["id"])

    tree = client.get(f"{URL}/categories", headers=tenant.viewer.headers).json()["data"]
    assert [n["name"] for n in tree] == ["Account", "Getting started"]
    assert tree[1]["children"][0]["children"][0]["id"] == leaf["id"]
    assert tree[1]["children"][0]["children"][0]["articleCount"] == 1

    cycle = client.patch(f"{URL}/categories/{root['id']}", json={"parentId": leaf["id"]}, headers=tenant.user.headers)
    assert cycle.status_code == 422 and cycle.json()["error"]["details"]["field"] == "parentId"
    moved = client.patch(f"{URL}/categories/{leaf['id']}", json={"parentId": first["id"]}, headers=tenant.user.headers)
    assert moved.status_code == 200 and moved.json()["parentId"] == first["id"]
    duplicate = client.post(f"{URL}/categories", json={"name": "SSO"}, headers=tenant.user.headers)
    assert duplicate.status_code == 409

    assert client.delete(f"{URL}/categories/{root['id']}", headers=tenant.user.headers).status_code == 403
    refused = client.delete(f"{URL}/categories/{root['id']}", headers=tenant.admin.headers)
    assert refused.status_code == 409 and refused.json()["error"]["details"]["subcategories"] == 1
    assert client.delete(f"{URL}/categories/{leaf['id']}", headers=tenant.admin.headers).status_code == 204
    orphan = client.get(f"{URL}/articles", headers=tenant.user.headers).json()["data"][0]
    assert orphan["categoryId"] is None  # the article stays, uncategorized


def test_a_published_article_is_found_by_search(search_client, tenant, other_tenant, drain):
    article = _published(search_client, tenant.user, "Configure SAML with Okta", SAML, visibility="public")
    draft = _article(search_client, tenant.user, "Okta SAML troubleshooting (draft)", SAML)
    drain(tenant.organization_id)
    # a draft is found by those who may edit it, never by a viewer
    as_user = search_client.get("/api/v1/search", params={"q": "okta saml", "types": "kb_articles"},
                                headers=tenant.user.headers).json()
    assert {h["id"] for h in as_user["kbArticles"]} == {article["id"], draft["id"]}

    response = search_client.get("/api/v1/search", params={"q": "okta saml", "types": "kb_articles",
                                                           "facets": "visibility"},
                                 headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    hits = response.json()["kbArticles"]
    assert [h["id"] for h in hits] == [article["id"]] and hits[0]["title"] == "Configure SAML with Okta"
    assert hits[0]["type"] == "kb_article" and hits[0]["document"]["status"] == "published"
    facets = response.json()["facets"]["kb_articles"]
    assert {f["value"] for f in facets["visibility"]} == {"public"}
    outsider = search_client.get("/api/v1/search", params={"q": "okta saml", "types": "kb_articles"},
                                 headers=other_tenant.admin.headers).json()
    assert outsider["kbArticles"] == []

    search_client.patch(f"{URL}/articles/{article['id']}", json={"title": "Okta and SAML"},
                        headers=tenant.user.headers)
    search_client.delete(f"{URL}/articles/{article['id']}", headers=tenant.admin.headers)
    drain(tenant.organization_id)
    gone = search_client.get("/api/v1/search", params={"q": "okta saml", "types": "kb_articles"},
                             headers=tenant.viewer.headers).json()
    assert gone["kbArticles"] == []
