"""Templates: Mustache rendering with escaping and defaults, unknown variables refused at save time."""

from __future__ import annotations

from serving.emails import templating


def test_render_escapes_html_but_not_text_and_applies_defaults():
    context = templating.build_context(variables={"company": "<b>Smith & Co</b>", "firstName": ""})
    out = templating.render(
        subject="Hi {{firstName}} at {{company}}",
        html="<p>Hi {{firstName}}, {{company}}</p>",
        text="Hi {{firstName}}, {{company}}",
        context=context,
    )
    assert out.html == "<p>Hi there, &lt;b&gt;Smith &amp; Co&lt;/b&gt;</p>"
    assert out.text == "Hi there, <b>Smith & Co</b>"
    assert out.subject == "Hi there at <b>Smith & Co</b>"


def test_sections_and_triple_mustache():
    context = {"items": [{"n": "a"}, {"n": "b"}], "raw": "<i>x</i>", "none": ""}
    assert (
        templating.render_string(
            "{{#items}}[{{n}}]{{/items}}{{^none}}!{{/none}}{{{raw}}}", context, escape=True
        )
        == "[a][b]!<i>x</i>"
    )


def test_unknown_variable_is_reported_at_save_time(client, tenant):
    body = {
        "name": "Bad",
        "subject": "Hi {{firstName}}",
        "html": "<p>{{meetingLink}} {{favouriteColour}}</p>",
    }
    response = client.post("/api/v1/email-templates", json=body, headers=tenant.user.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "UNKNOWN_TEMPLATE_VARIABLES"
    assert error["details"]["unknown"] == ["favouriteColour", "meetingLink"]
    body["variables"] = ["meetingLink"]
    body["defaults"] = {"favouriteColour": "blue"}
    ok = client.post("/api/v1/email-templates", json=body, headers=tenant.user.headers)
    assert ok.status_code == 201, ok.text


def test_syntax_error_and_viewer_refused(client, tenant):
    body = {"name": "Broken", "subject": "Hi {{#firstName}}", "text": "x"}
    assert (
        client.post("/api/v1/email-templates", json=body, headers=tenant.user.headers).json()["error"]["code"]
        == "INVALID_TEMPLATE"
    )
    body = {"name": "Fine", "subject": "Hi", "text": "x"}
    assert client.post("/api/v1/email-templates", json=body, headers=tenant.viewer.headers).status_code == 403


def test_preview_for_a_prospect(client, tenant, make_prospect):
    prospect = make_prospect(first_name="Grace", company="Navy & Sons")
    created = client.post(
        "/api/v1/email-templates",
        headers=tenant.user.headers,
        json={
            "name": "Intro",
            "subject": "Quick question about {{company}}",
            "html": "<p>Hi {{firstName}}, see {{meetingLink}}</p>",
            "variables": ["meetingLink"],
        },
    ).json()
    response = client.post(
        f"/api/v1/email-templates/{created['id']}/preview",
        headers=tenant.viewer.headers,
        json={"prospectId": str(prospect.id), "variables": {"meetingLink": "https://cal.com/x"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == "Quick question about Navy & Sons"
    assert body["html"] == "<p>Hi Grace, see https://cal.com/x</p>"
    assert body["variablesUsed"] == ["company", "firstName", "meetingLink"]


def test_other_tenant_cannot_see_template(client, tenant, other_tenant):
    created = client.post(
        "/api/v1/email-templates",
        headers=tenant.user.headers,
        json={"name": "Mine", "subject": "S", "text": "T"},
    ).json()
    assert (
        client.get(f"/api/v1/email-templates/{created['id']}", headers=other_tenant.admin.headers).status_code
        == 404
    )


def test_search_treats_like_wildcards_literally(client, tenant):
    # `%` and `_` are LIKE wildcards and `\` its escape: a name search must match them as typed
    for name in ("50%_off spring", "50 percent off", "500 off", "path\\to\\x", "path/to/x"):
        created = client.post(
            "/api/v1/email-templates", headers=tenant.user.headers, json={"name": name, "subject": "S", "text": "T"}
        )
        assert created.status_code == 201, created.text

    def names(q: str) -> list[str]:
        response = client.get("/api/v1/email-templates", headers=tenant.user.headers, params={"q": q})
        assert response.status_code == 200, response.text
        return sorted(t["name"] for t in response.json()["data"])

    assert names("50%_off") == ["50%_off spring"]
    assert names("0_") == []
    assert names("h\\t") == ["path\\to\\x"]
    assert names("OFF") == ["50 percent off", "50%_off spring", "500 off"]
