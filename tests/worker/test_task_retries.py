"""Every worker task's retry policy is one procrastinate understands: a plain dict was accepted at import and then
broke the first failure of a job (`'dict' object has no attribute 'get_retry_exception'`), so nothing retried."""

from __future__ import annotations

import importlib

from procrastinate.retry import BaseRetryStrategy

from serving.core.queue import TASK_MODULES, queue


def test_every_task_retries_with_a_strategy():
    for module in TASK_MODULES:
        importlib.import_module(module)
    assert queue.tasks
    for name, task in queue.tasks.items():
        strategy = task.retry_strategy
        assert strategy is None or isinstance(strategy, BaseRetryStrategy), name
        if strategy is not None:  # and it answers a failure with a retry, as the worker will ask it
            assert strategy.get_retry_exception(exception=RuntimeError("boom"), job=_job(name)) is not None, name


def _job(name: str):
    from procrastinate.jobs import Job

    return Job(id=1, queue="default", lock=None, queueing_lock=None, task_name=name, task_kwargs={}, attempts=0)
