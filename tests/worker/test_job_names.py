"""Job modules are named jobs.py (a task is a rep's to-do item), but the names queued rows carry stay as they were."""

from __future__ import annotations

from serving import worker


def test_queued_job_names_resolve_to_the_jobs_modules():
    worker._task_modules_loaded()
    # rows already in procrastinate_jobs carry these names: renaming a module must not orphan them
    expected = {
        "emails.deliver_due": "serving.emails.jobs",
        "emails.materialize_bulk": "serving.emails.jobs",
        "cadences.run_due": "serving.cadences.jobs",
        "outreach.sweep": "serving.cadences.jobs",
    }
    assert {name: worker.queue.tasks[name].func.__module__ for name in expected} == expected
    assert not [m for m in worker.TASK_MODULES if m.endswith(".tasks")]
