"""Worker jobs for the BDR agent: one run per organization (discover + research + engage), and one job per
inbound reply. Each is safe to run twice: engage steps are keyed in `bdr_tasks`, so a retried job re-uses them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from procrastinate import RetryStrategy
from sqlalchemy.orm import Session

from serving.bdr import agent, learning
from serving.bdr.models import BdrAgentConfig
from serving.core.clock import utcnow
from serving.core.db import set_tenant
from serving.core.queue import QUEUE, Runtime, enqueue, queue, runtime

RUN_TASK = "bdr.run"
REPLY_TASK = "bdr.reply"
LEARN_TASK = "bdr.learn"
STEP_TASK = "bdr.step"
RETRY = RetryStrategy(max_attempts=3, exponential_wait=2)


@contextmanager
def _agent(organization_id: str) -> Iterator[tuple[Runtime, Session, BdrAgentConfig | None]]:
    """A job's transaction bound to the organization, with its agent's configuration (None when it is off)."""
    rt = runtime()
    with rt.factory() as session, session.begin():
        set_tenant(session, uuid.UUID(organization_id))
        config = agent.get_config(db_session=session, organization_id=uuid.UUID(organization_id))
        yield rt, session, config if config is not None and config.enabled else None


@queue.task(name=RUN_TASK, queue=QUEUE, retry=RETRY)
def run_agent(organization_id: str) -> dict:
    """The scheduled run: discovery and the follow-ups due, then one `bdr.step` job per prospect, so one
    prospect's failure (the writer's model down, a bad address) neither rolls back nor blocks the others, and a
    worker stopped mid-run leaves the rest queued."""
    with _agent(organization_id) as (_rt, session, config):
        if config is None:
            return {"skipped": "the agent is off"}
        now = utcnow()
        interval = agent.agent_settings(config).discovery.interval_minutes
        last = agent.last_scheduled_run(db_session=session)
        # the schedule ticks every 15 minutes; the organization's interval decides (a minute's slack for jitter)
        if last is not None and now - last < timedelta(minutes=interval - 1):
            return {"skipped": f"the last scheduled run was at {last:%H:%M} UTC; the interval is {interval} minutes"}
        execution, found, steps = agent.plan(db_session=session, config=config, trigger="schedule", now=now)
        for step in steps:
            enqueue(session, STEP_TASK, queueing_lock=f"{STEP_TASK}:{step.prospect_id}:{step.purpose}",
                    organization_id=organization_id, prospect_id=str(step.prospect_id), purpose=step.purpose,
                    task_id=str(step.task_id) if step.task_id else None)
        execution.steps = [*execution.steps, *({"step": s.purpose, "prospectId": str(s.prospect_id),
                                                "outcome": "job_queued"} for s in steps)]
        execution.finished_at = now
        return {"executionId": str(execution.id), "picked": len(found.picked), "steps": len(steps)}


@queue.task(name=STEP_TASK, queue=QUEUE, retry=RETRY)
def run_step(organization_id: str, prospect_id: str, purpose: str, task_id: str | None = None) -> dict:
    with _agent(organization_id) as (rt, session, config):
        if config is None:
            return {"skipped": "the agent is off"}
        step = agent.Step(uuid.UUID(prospect_id), purpose, uuid.UUID(task_id) if task_id else None)
        result = agent.run_step(db_session=session, settings=rt.settings, config=config, step=step)
        return {"outcome": result.outcome, "reason": result.reason}


@queue.task(name=REPLY_TASK, queue=QUEUE, retry=RETRY)
def handle_reply(organization_id: str, prospect_id: str, text: str, sender: str | None = None,
                 email_id: str | None = None, reply_key: str | None = None) -> dict:
    with _agent(organization_id) as (rt, session, config):
        if config is None:
            return {"skipped": "the agent is off"}
        outcome = agent.handle_reply(db_session=session, settings=rt.settings, config=config,
                                     prospect_id=uuid.UUID(prospect_id), text=text, sender=sender,
                                     email_id=uuid.UUID(email_id) if email_id else None,
                                     reply_key=reply_key)
        return {"label": outcome.classification.label, "action": outcome.action}


@queue.task(name=LEARN_TASK, queue=QUEUE, retry=RETRY)
def learn(organization_id: str) -> dict:
    """The learning batch of one organization: yesterday's and today's counts recorded, and a winner among its
    messaging variants declared when the evidence is enough."""
    rt = runtime()
    oid = uuid.UUID(organization_id)
    with rt.factory() as session, session.begin():
        set_tenant(session, oid)
        today = utcnow().date()
        for day in (today - timedelta(days=1), today):
            agent.record_day(db_session=session, organization_id=oid, day=day)
        winner = learning.declare_winner(db_session=session, organization_id=oid)
        return {"winner": winner.variant.name if winner else None}


def request_runs(*, db_session, task: str) -> int:
    """Queue `task` (RUN_TASK or LEARN_TASK) for every organization it concerns, in the caller's transaction
    (the Dagster schedules' work); one waiting job per organization absorbs the next request."""
    orgs = (learning.enabled_organizations(db_session=db_session) if task == RUN_TASK
            else learning.configured_organizations(db_session=db_session))
    for oid in orgs:
        enqueue(db_session, task, queueing_lock=f"{task}:{oid}", organization_id=str(oid))
    return len(orgs)
