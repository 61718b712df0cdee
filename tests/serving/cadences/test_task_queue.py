"""The rep's daily task queue and completing a task with an outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from serving.tasks.models import Task


def test_today_lists_my_pending_tasks_and_completion_logs_the_call(client, tenant, make_prospect):
    prospect = make_prospect()
    now = datetime.now(UTC)
    mine = tenant.add(
        Task,
        user_id=tenant.user.id,
        prospect_id=prospect.id,
        type="call",
        title="Call Ada",
        due_at=now - timedelta(hours=1),
    )
    tenant.add(
        Task,
        user_id=tenant.user.id,
        prospect_id=prospect.id,
        type="task",
        title="Later",
        due_at=now + timedelta(days=3),
    )
    tenant.add(Task, user_id=tenant.admin.id, type="task", title="Not mine", due_at=now)
    today = client.get("/api/v1/tasks/today", headers=tenant.user.headers).json()
    assert [t["title"] for t in today["data"]] == ["Call Ada"]
    done = client.post(
        f"/api/v1/tasks/{mine.id}/complete",
        headers=tenant.user.headers,
        json={"outcome": "meeting_booked", "notes": "Tuesday 10am", "durationSeconds": 120},
    )
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "meeting_booked"
    assert client.get("/api/v1/tasks/today", headers=tenant.user.headers).json()["data"] == []
    again = client.post(f"/api/v1/tasks/{mine.id}/complete", headers=tenant.user.headers, json={})
    assert again.status_code == 422
    timeline = client.get(f"/api/v1/prospects/{prospect.id}/activities", headers=tenant.user.headers).json()
    assert {"call_made", "meeting_scheduled"} <= {a["type"] for a in timeline["data"]}
    assert client.get("/api/v1/tasks/today?tz=Mars/Base", headers=tenant.user.headers).status_code == 422


def test_viewer_cannot_complete_and_other_tenant_cannot_see(client, tenant, other_tenant):
    task = tenant.add(Task, user_id=tenant.user.id, type="task", title="T", due_at=datetime.now(UTC))
    assert (
        client.post(f"/api/v1/tasks/{task.id}/complete", headers=tenant.viewer.headers, json={}).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/tasks/{task.id}/complete", headers=other_tenant.admin.headers, json={}
        ).status_code
        == 404
    )


def test_create_and_list_tasks_with_filters(client, tenant, other_tenant, make_prospect):
    prospect = make_prospect()
    before = datetime.now(UTC)
    made = client.post("/api/v1/tasks", headers=tenant.user.headers,
                       json={"title": "Send deck", "prospectId": str(prospect.id)})
    assert made.status_code == 201, made.text
    task = made.json()
    assert task["userId"] == str(tenant.user.id) and task["status"] == "pending"
    assert datetime.fromisoformat(task["dueAt"]) >= before - timedelta(seconds=1)

    for_admin = client.post("/api/v1/tasks", headers=tenant.user.headers,
                            json={"title": "Review", "userId": str(tenant.admin.id), "type": "call"})
    assert for_admin.status_code == 201 and for_admin.json()["userId"] == str(tenant.admin.id)
    # a user of another organization cannot be assigned
    theirs = client.post("/api/v1/tasks", headers=tenant.user.headers,
                         json={"title": "x", "userId": str(other_tenant.user.id)})
    assert theirs.status_code == 422, theirs.text

    by_prospect = client.get(f"/api/v1/tasks?prospectId={prospect.id}", headers=tenant.user.headers).json()
    assert [t["id"] for t in by_prospect["data"]] == [task["id"]]
    by_user = client.get(f"/api/v1/tasks?userId={tenant.admin.id}&status=pending",
                         headers=tenant.user.headers).json()
    assert [t["title"] for t in by_user["data"]] == ["Review"]
    done = client.get(f"/api/v1/tasks?prospectId={prospect.id}&status=completed,skipped",
                      headers=tenant.user.headers).json()
    assert done["data"] == [] and done["pagination"]["total"] == 0

    unknown = client.get("/api/v1/tasks?status=pending,finished", headers=tenant.user.headers)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"] == {
        "field": "status", "value": "finished", "allowed": ["pending", "completed", "skipped"]}

    missing = client.post(f"/api/v1/tasks/{uuid.uuid4()}/complete", headers=tenant.user.headers, json={})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
