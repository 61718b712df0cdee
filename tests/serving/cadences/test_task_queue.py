"""The rep's daily task queue and completing a task with an outcome."""

from __future__ import annotations

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
