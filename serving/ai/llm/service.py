"""complete() and stream(): route, retry, fall back, keep within the budget, log. See docs/ai.md.

Budget and log rows are written in short transactions of their own (same engine, same tenant binding), not in the
caller's: money spent at a vendor stays recorded when the caller's request later fails and rolls back, and the
per-organization advisory lock that makes check-and-reserve atomic is held for milliseconds, not for the
seconds a model takes to answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from serving.ai.llm import pricing, routing
from serving.ai.llm.models import AiBudget, AiGeneration
from serving.ai.llm.providers import ProviderError, Request, Result
from serving.ai.llm.providers.base import Usage, parse_json
from serving.ai.llm.types import TASKS, AIUnavailable, BudgetExceeded, Completion, Message, ModelInfo, Stream
from serving.core.clock import utcnow
from serving.core.config import Settings, get_settings
from serving.core.db import set_tenant
from serving.core.errors import ValidationFailed

_CHARS_PER_TOKEN = 4  # a rough, deliberately generous estimate for the budget check (all three vendors ~4)


# -- budget -----------------------------------------------------------------------------------------------------

def month_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The calendar month (UTC) a budget covers: [first day 00:00, first day of next month 00:00)."""
    now = (now or utcnow()).astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def monthly_cap(*, db_session: Session, organization_id: uuid.UUID, settings: Settings) -> Decimal | None:
    own = db_session.scalar(select(AiBudget.monthly_cap_usd).where(AiBudget.organization_id == organization_id))
    return own if own is not None else settings.ai_monthly_budget_usd


def spent_between(*, db_session: Session, organization_id: uuid.UUID, start: datetime, end: datetime) -> Decimal:
    # pending rows count with their estimate: that is what keeps two concurrent calls from both slipping past
    total = db_session.scalar(select(func.coalesce(func.sum(AiGeneration.cost_usd), 0)).where(
        AiGeneration.organization_id == organization_id, AiGeneration.created_at >= start,
        AiGeneration.created_at < end))
    return Decimal(total)


def estimate_cost(model: str, system: str, messages: list[Message], max_tokens: int) -> Decimal:
    characters = len(system) + sum(len(m.content) for m in messages)
    return pricing.cost(model, characters // _CHARS_PER_TOKEN + 1, max_tokens)


@contextmanager
def _own_transaction(db_session: Session, organization_id: uuid.UUID) -> Iterator[Session]:
    bind = db_session.get_bind()
    engine = getattr(bind, "engine", bind)
    with Session(engine) as session, session.begin():
        set_tenant(session, organization_id)
        yield session


def _reserve(*, db_session: Session, organization_id, user_id, task, step: dict, prompt_version: str,
             estimate: Decimal, settings: Settings) -> uuid.UUID:
    """Check the budget and reserve the estimate as a pending row, atomically per organization."""
    refusal = None
    with _own_transaction(db_session, organization_id) as session:
        session.execute(text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"ai_budget:{organization_id}"})
        cap = monthly_cap(db_session=session, organization_id=organization_id, settings=settings)
        start, end = month_window()
        spent = (spent_between(db_session=session, organization_id=organization_id, start=start, end=end)
                 if cap is not None else Decimal(0))
        if cap is not None and spent + estimate > cap:
            # logged (committed with this transaction) before it is raised, so a caller's rollback keeps it
            session.add(_row(organization_id, user_id, task, step, prompt_version, status="refused",
                             error=f"monthly budget {cap} USD: {spent} spent, this call estimated at {estimate}"))
            refusal = BudgetExceeded(
                "the organization's monthly AI budget would be exceeded",
                details={"cap": str(cap), "spent": str(spent), "estimate": str(estimate),
                         "period": start.strftime("%Y-%m"), "resetsAt": end.isoformat()})
        else:
            row = _row(organization_id, user_id, task, step, prompt_version, status="pending", cost_usd=estimate)
            session.add(row)
            generation_id = row.id
    if refusal is not None:
        raise refusal
    return generation_id


def _row(organization_id, user_id, task, step, prompt_version, **values) -> AiGeneration:
    return AiGeneration(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, task=task,
                        provider=step.get("provider", "none"), model=step.get("model", "none"),
                        prompt_version=prompt_version, **values)


def _finish(db_session: Session, organization_id, generation_id: uuid.UUID, **values) -> None:
    with _own_transaction(db_session, organization_id) as session:
        session.execute(update(AiGeneration).where(AiGeneration.id == generation_id).values(**values))


# -- retries ----------------------------------------------------------------------------------------------------

class _WaitRetryAfter:
    """Full-jitter exponential backoff, unless the vendor said how long to wait (Retry-After), capped."""

    def __init__(self, settings: Settings) -> None:
        self.cap = settings.ai_retry_max_seconds
        self.backoff = wait_random_exponential(multiplier=settings.ai_retry_base_seconds, max=self.cap)

    def __call__(self, retry_state) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, ProviderError) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return self.backoff(retry_state)


def with_retries(settings: Settings, call: Callable[[], Result]):
    retrying = Retrying(stop=stop_after_attempt(settings.ai_max_attempts), wait=_WaitRetryAfter(settings),
                        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
                        reraise=True)
    return retrying(call)


# -- the calls --------------------------------------------------------------------------------------------------

def _prepare(*, db_session, organization_id, user_id, task, system, messages, json_schema, max_tokens, temperature,
             model, prompt_version, settings):
    if task not in TASKS:
        raise ValidationFailed(f"unknown task {task!r}", details={"task": task, "tasks": list(TASKS)})
    chain = routing.chain_for(db_session=db_session, organization_id=organization_id, settings=settings, task=task,
                              model=model)
    if not chain:
        # nothing will be spent, so no budget check: the caller learns that no provider is set up, not its budget
        with _own_transaction(db_session, organization_id) as session:
            session.add(_row(organization_id, user_id, task, {}, prompt_version, status="error",
                             error="no AI provider is configured for this task"))
        raise AIUnavailable("no AI provider is configured for this task",
                            details={"task": task, "attempts": []})
    request = Request(model=chain[0]["model"], system=system, messages=list(messages), json_schema=json_schema,
                      max_tokens=max_tokens, temperature=temperature)
    estimate = estimate_cost(chain[0]["model"], system, request.messages, max_tokens)
    generation_id = _reserve(db_session=db_session, organization_id=organization_id, user_id=user_id, task=task,
                             step=chain[0], prompt_version=prompt_version, estimate=estimate, settings=settings)
    return chain, request, generation_id


def _attempt(step: dict, started: float, error: ProviderError | None = None) -> dict:
    attempt = {"provider": step["provider"], "model": step["model"], "status": "error" if error else "ok",
               "latencyMs": round((time.perf_counter() - started) * 1000, 1)}
    if error is not None:
        attempt |= {"error": str(error), "httpStatus": error.status}
    return attempt


def _give_up(db_session, organization_id, generation_id, attempts: list[dict]) -> AIUnavailable:
    _finish(db_session, organization_id, generation_id, status="error", cost_usd=Decimal(0), attempts=attempts,
            error="; ".join(a.get("error", "") for a in attempts)[:2000])
    return AIUnavailable("every configured AI provider failed", details={"attempts": attempts})


def complete(*, db_session, organization_id, user_id, task, system, messages, json_schema=None, max_tokens=800,
             temperature=0.7, model=None, prompt_version, settings=None) -> Completion:
    settings = settings or get_settings()
    chain, request, generation_id = _prepare(
        db_session=db_session, organization_id=organization_id, user_id=user_id, task=task, system=system,
        messages=messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature, model=model,
        prompt_version=prompt_version, settings=settings)
    attempts: list[dict] = []
    for step in chain:
        started = time.perf_counter()
        client = routing.provider(settings, step["provider"])
        step_request = replace(request, model=step["model"])
        try:
            result = with_retries(settings, lambda c=client, r=step_request: c.generate(r))
        except ProviderError as exc:
            attempts.append(_attempt(step, started, exc))
            continue
        attempts.append(_attempt(step, started))
        return _record(db_session, organization_id, generation_id, step, result, attempts)
    raise _give_up(db_session, organization_id, generation_id, attempts)


def _record(db_session, organization_id, generation_id, step, result: Result, attempts) -> Completion:
    latency = attempts[-1]["latencyMs"]
    cost = pricing.cost(step["model"], result.input_tokens, result.output_tokens)
    _finish(db_session, organization_id, generation_id, status="ok", provider=step["provider"], model=step["model"],
            input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost_usd=cost,
            latency_ms=latency, attempts=attempts, error=None)
    return Completion(text=result.text, parsed=result.parsed, provider=step["provider"], model=step["model"],
                      input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost_usd=cost,
                      latency_ms=latency, attempts=attempts, generation_id=generation_id)


def stream(*, db_session, organization_id, user_id, task, system, messages, json_schema=None, max_tokens=800,
           temperature=0.7, model=None, prompt_version, settings=None) -> Stream:
    """Opens the stream eagerly: the budget check, the retries and the fallback all happen before the first delta
    is returned, so a caller can still answer 402/503 instead of a broken stream."""
    settings = settings or get_settings()
    chain, request, generation_id = _prepare(
        db_session=db_session, organization_id=organization_id, user_id=user_id, task=task, system=system,
        messages=messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature, model=model,
        prompt_version=prompt_version, settings=settings)
    attempts: list[dict] = []
    for step in chain:
        started = time.perf_counter()
        client = routing.provider(settings, step["provider"])
        step_request = replace(request, model=step["model"])

        def open_stream(c=client, r=step_request):
            items = c.stream(r)
            return next(items), items

        try:
            first, items = with_retries(settings, open_stream)
        except ProviderError as exc:
            attempts.append(_attempt(step, started, exc))
            continue
        result = Stream(iter(()))
        result._chunks = _deltas(result, first, items, db_session=db_session, organization_id=organization_id,
                                 generation_id=generation_id, step=step, started=started, attempts=attempts,
                                 json_schema=json_schema)
        return result
    raise _give_up(db_session, organization_id, generation_id, attempts)


def _deltas(holder: Stream, first, items, *, db_session, organization_id, generation_id, step, started, attempts,
            json_schema) -> Iterator[str]:
    parts: list[str] = []
    usage = Usage(0, 0)
    finished = False
    try:
        for item in _chain_first(first, items):
            if isinstance(item, Usage):
                usage = item
                continue
            parts.append(item)
            yield item
        text_out = "".join(parts)
        parsed = parse_json(text_out) if json_schema is not None else None
        attempts.append(_attempt(step, started))
        holder.completion = _record(db_session, organization_id, generation_id, step,
                                    Result(text_out, usage.input_tokens, usage.output_tokens, parsed), attempts)
        finished = True
    except ProviderError as exc:
        attempts.append(_attempt(step, started, exc))
        # deltas were already delivered: falling back now would splice two answers, so the stream fails
        raise _give_up(db_session, organization_id, generation_id, attempts) from exc
    finally:
        if not finished and not (attempts and attempts[-1]["status"] == "error"):
            # the caller stopped reading (a closed connection): the vendor was paid for what it produced; keep
            # the reserved estimate as the cost
            attempts.append({"provider": step["provider"], "model": step["model"], "status": "error",
                             "error": "the stream was closed before it ended"})
            _finish(db_session, organization_id, generation_id, status="error", attempts=attempts,
                    error="the stream was closed before it ended")


def _chain_first(first, items):
    yield first
    yield from items


# -- the log and what is configured ---------------------------------------------------------------------------

def log_generation(*, db_session, organization_id, user_id, task, provider, model, prompt_version, input_tokens,
                   output_tokens, cost_usd, latency_ms, status, error=None) -> uuid.UUID:
    row = AiGeneration(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, task=task,
                       provider=provider, model=model, prompt_version=prompt_version, input_tokens=input_tokens,
                       output_tokens=output_tokens, cost_usd=cost_usd, latency_ms=latency_ms, status=status,
                       error=error, attempts=[])
    db_session.add(row)
    db_session.flush()
    return row.id


def offline(*, settings=None, db_session=None, organization_id=None, task=None) -> bool:
    settings = settings or get_settings()
    if task is None:
        return not routing.configured_providers(settings)
    return not routing.chain_for(db_session=db_session, organization_id=organization_id, settings=settings,
                                 task=task)


def configured_models(settings=None) -> list[ModelInfo]:
    settings = settings or get_settings()
    available = set(routing.configured_providers(settings))
    return [ModelInfo(name=p.model, provider=p.provider, input_usd_per_mtok=p.input_per_mtok,
                      output_usd_per_mtok=p.output_per_mtok, tasks=p.tasks, available=p.provider in available)
            for p in pricing.MODELS.values()]
