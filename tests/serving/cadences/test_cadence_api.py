"""The /cadences API: the list loads steps and variants for the whole page at once; edits and enrollments."""

from __future__ import annotations

import contextlib
import uuid

from sqlalchemy import event


@contextlib.contextmanager
def _statements(app):
    """Every SQL statement the app's engine runs inside the block."""
    engine = app.state.session_factory.kw["bind"]
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _cadence(client, tenant, name: str) -> dict:
    response = client.post(
        "/api/v1/cadences",
        headers=tenant.user.headers,
        json={
            "name": name,
            "steps": [
                {"type": "email", "content": "hi", "variants": [
                    {"name": "b", "content": "B"}, {"name": "a", "content": "A"}]},
                {"type": "call", "delayDays": 2},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_listing_cadences_costs_the_same_statements_for_two_or_six(client, app, tenant):
    created = [_cadence(client, tenant, f"c{i}") for i in range(2)]
    with _statements(app) as two:
        first = client.get("/api/v1/cadences", headers=tenant.user.headers)
    assert first.status_code == 200, first.text
    created += [_cadence(client, tenant, f"c{i}") for i in range(2, 6)]
    with _statements(app) as six:
        second = client.get("/api/v1/cadences", headers=tenant.user.headers)
    assert second.status_code == 200, second.text

    # the old listing ran two queries (steps, variants) per cadence on the page
    assert len(six) == len(two), (len(two), len(six))
    assert sum("cadence_steps" in s for s in six) == 1

    listed = {c["id"]: c for c in second.json()["data"]}
    assert second.json()["pagination"]["total"] == 6
    for cadence in created:
        got = listed[cadence["id"]]
        assert [s["type"] for s in got["steps"]] == ["email", "call"]
        assert [s["stepNumber"] for s in got["steps"]] == [1, 2]
        assert [v["name"] for v in got["steps"][0]["variants"]] == ["a", "b"]
        assert got["steps"][1]["variants"] == []
        assert got == cadence


def test_list_filters_by_active_and_other_tenants_see_nothing(client, tenant, other_tenant):
    active = _cadence(client, tenant, "on")
    off = _cadence(client, tenant, "off")
    assert client.put(f"/api/v1/cadences/{off['id']}", headers=tenant.user.headers,
                      json={"isActive": False}).status_code == 200

    only_active = client.get("/api/v1/cadences?isActive=true", headers=tenant.user.headers).json()
    assert [c["id"] for c in only_active["data"]] == [active["id"]]
    only_off = client.get("/api/v1/cadences?isActive=false", headers=tenant.user.headers).json()
    assert [c["id"] for c in only_off["data"]] == [off["id"]]

    theirs = client.get("/api/v1/cadences", headers=other_tenant.user.headers).json()
    assert theirs["data"] == [] and theirs["pagination"]["total"] == 0
    assert client.get(f"/api/v1/cadences/{active['id']}", headers=other_tenant.user.headers).status_code == 404


def test_update_checks_settings_and_delete_removes(client, tenant):
    cadence = _cadence(client, tenant, "edit me")
    url = f"/api/v1/cadences/{cadence['id']}"

    bad = client.put(url, headers=tenant.user.headers, json={"settings": {"timezone": "Mars/Olympus"}})
    assert bad.status_code == 422, bad.text
    assert bad.json()["success"] is False
    assert client.get(url, headers=tenant.user.headers).json()["settings"] == cadence["settings"]

    changed = client.put(url, headers=tenant.user.headers, json={"name": "renamed", "description": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "renamed" and changed.json()["description"] is None
    assert [s["id"] for s in changed.json()["steps"]] == [s["id"] for s in cadence["steps"]]

    assert client.delete(url, headers=tenant.user.headers).status_code == 204
    missing = client.get(url, headers=tenant.user.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert client.put(f"/api/v1/cadences/{uuid.uuid4()}", headers=tenant.user.headers,
                      json={"name": "x"}).status_code == 404


def test_enrollments_list_by_status_and_get(client, tenant, make_prospect):
    cadence = _cadence(client, tenant, "enroll")
    prospects = [make_prospect() for _ in range(2)]
    enrolled = client.post(f"/api/v1/cadences/{cadence['id']}/enroll", headers=tenant.user.headers,
                           json={"prospectIds": [str(p.id) for p in prospects]})
    assert enrolled.status_code == 200, enrolled.text
    first_id = enrolled.json()["results"][0]["enrollmentId"]
    paused = client.post(f"/api/v1/cadence-enrollments/{first_id}/pause", headers=tenant.user.headers,
                         json={"reason": "holiday"})
    assert paused.status_code == 200 and paused.json()["pauseReason"] == "holiday"

    url = f"/api/v1/cadences/{cadence['id']}/enrollments"
    everything = client.get(url, headers=tenant.user.headers).json()
    assert everything["pagination"]["total"] == 2
    just_paused = client.get(f"{url}?status=paused", headers=tenant.user.headers).json()
    assert [e["id"] for e in just_paused["data"]] == [first_id]
    unknown = client.get(f"{url}?status=paused,asleep", headers=tenant.user.headers)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"]["value"] == "asleep"
    assert "paused" in unknown.json()["error"]["details"]["allowed"]

    got = client.get(f"/api/v1/cadence-enrollments/{first_id}", headers=tenant.user.headers)
    assert got.status_code == 200 and got.json()["status"] == "paused"
    assert client.get(f"/api/v1/cadence-enrollments/{uuid.uuid4()}",
                      headers=tenant.user.headers).status_code == 404
