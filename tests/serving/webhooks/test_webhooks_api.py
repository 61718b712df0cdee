"""The endpoint resource itself: create, list (`{data, pagination}`), change, clear, delete; bad changes are
422s in the envelope and leave the endpoint as it was."""

from __future__ import annotations

from tests.serving.webhooks.conftest import API, add_endpoint


def test_endpoint_crud(private_client, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver, description="CRM sync", eventTypes=["deal.won"])
    assert endpoint["createdBy"] == str(tenant.admin.id) and endpoint["enabled"] is True
    listed = private_client.get(API, headers=tenant.admin.headers).json()
    assert [e["id"] for e in listed["data"]] == [endpoint["id"]] and listed["pagination"]["total"] == 1
    assert "secret" not in listed["data"][0]

    url = f"{API}/{endpoint['id']}"
    changed = private_client.patch(url, json={"eventTypes": ["deal.won", "deal.lost"], "batch": True,
                                              "batchMaxSize": 10}, headers=tenant.admin.headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["eventTypes"], changed.json()["batch"], changed.json()["batchMaxSize"]) == (
        ["deal.won", "deal.lost"], True, 10)
    assert changed.json()["description"] == "CRM sync"  # not sent: unchanged
    cleared = private_client.patch(url, json={"description": None}, headers=tenant.admin.headers).json()
    assert cleared["description"] is None

    for body in ({"url": "http://10.0.0.5/hook", "allowPrivate": False}, {"eventTypes": []},
                 {"eventTypes": ["nope.never"]}, {"batchMaxSize": 0}, {"secret": "whsec_mine"}):
        bad = private_client.patch(url, json=body, headers=tenant.admin.headers)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["success"] is False
    # a private URL on an endpoint the admin allowed private targets for stays allowed; a user may not move it
    moved = private_client.patch(url, json={"url": "http://127.0.0.1:9/other"}, headers=tenant.user.headers)
    assert moved.status_code == 403
    assert private_client.get(url, headers=tenant.admin.headers).json()["url"] == receiver.url

    disabled = private_client.post(f"{url}/disable", headers=tenant.admin.headers).json()
    assert disabled["enabled"] is False and disabled["disabledReason"] == "disabled by a user"
    assert private_client.delete(url, headers=tenant.admin.headers).status_code == 204
    assert private_client.get(url, headers=tenant.admin.headers).status_code == 404
