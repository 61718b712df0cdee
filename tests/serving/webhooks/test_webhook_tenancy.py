"""Tenancy and permissions of webhooks: another organization's endpoints and logs are not found (read, change,
test, rotate, replay, health), its events never reach this organization's endpoints, and only holders of
`webhooks:manage` (not viewers) use the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.serving.webhooks.conftest import API, add_endpoint, run
from tests.serving.webhooks.test_webhook_delivery import logs, new_prospect


def test_another_organization_cannot_see_or_touch_endpoints_and_logs(private_client, private_settings, tenant,
                                                                    other_tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    new_prospect(private_client, tenant)
    run(private_settings, tenant, datetime.now(UTC))
    (log,) = logs(private_client, tenant, endpoint["id"])
    stranger = other_tenant.admin.headers
    base = f"{API}/{endpoint['id']}"
    window = {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
              "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    calls = [
        ("get", base, None), ("patch", base, {"description": "mine now"}), ("delete", base, None),
        ("post", f"{base}/enable", None), ("post", f"{base}/disable", None), ("post", f"{base}/test", None),
        ("post", f"{base}/rotate-secret", {}), ("get", f"{base}/logs", None), ("get", f"{base}/health", None),
        ("post", f"{base}/replay", window), ("post", f"{API}/logs/{log['id']}/replay", None),
    ]
    for method, url, body in calls:
        kwargs = {"json": body} if body is not None else {}
        response = private_client.request(method.upper(), url, headers=stranger, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["success"] is False
    listed = private_client.get(API, headers=stranger).json()
    assert listed["data"] == [] and listed["pagination"]["total"] == 0
    # nothing changed, nothing sent again
    mine = private_client.get(base, headers=tenant.admin.headers).json()
    assert mine["enabled"] is True and mine["description"] is None
    assert len(logs(private_client, tenant, endpoint["id"])) == 1
    assert len(receiver.received) == 1


def test_events_never_reach_another_organizations_endpoints(private_client, private_settings, tenant,
                                                           other_tenant, receiver):
    theirs = add_endpoint(private_client, other_tenant, receiver, eventTypes=["*"])
    new_prospect(private_client, tenant)
    run(private_settings, tenant, datetime.now(UTC))
    run(private_settings, other_tenant, datetime.now(UTC))
    assert receiver.received == []
    assert logs(private_client, other_tenant, theirs["id"]) == []


def test_viewers_cannot_manage_webhooks(private_client, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    for method, url in (("get", API), ("post", API), ("get", f"{API}/{endpoint['id']}")):
        response = private_client.request(method.upper(), url, headers=tenant.viewer.headers,
                                          json={"url": "https://example.com/"} if method == "post" else None)
        assert response.status_code == 403, response.text
    # a plain user holds webhooks:manage (public targets only)
    assert private_client.get(API, headers=tenant.user.headers).status_code == 200
