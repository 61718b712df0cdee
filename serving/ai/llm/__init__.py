"""One interface over the official OpenAI, Anthropic and Gemini SDKs: routing, fallback, budgets, the log.

Callers use only what this module exports; providers, pricing and routing are details behind it (docs/ai.md).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from serving.ai.llm import service
from serving.ai.llm.types import (
    PROVIDERS,
    TASKS,
    AIUnavailable,
    BudgetExceeded,
    Completion,
    Message,
    ModelInfo,
    Stream,
)

__all__ = [
    "PROVIDERS", "TASKS", "AIUnavailable", "BudgetExceeded", "Completion", "Message", "ModelInfo", "Stream",
    "complete", "configured_models", "log_generation", "offline", "stream",
]


def configured_models(settings=None) -> list[ModelInfo]:
    """Every model in the price table, with its prices per 1M tokens, the tasks it serves and whether its key is set."""
    return service.configured_models(settings)


def offline(*, settings=None, db_session=None, organization_id=None, task: str | None = None) -> bool:
    """True when no provider on the route (the organization's, else the default) has a key configured.

    With no arguments: True when no provider key is configured at all.
    """
    return service.offline(settings=settings, db_session=db_session, organization_id=organization_id, task=task)


def complete(*, db_session, organization_id, user_id, task: str, system: str, messages: list[Message],
             json_schema: dict | None = None, max_tokens: int = 800, temperature: float = 0.7,
             model: str | None = None, prompt_version: str, settings=None) -> Completion:
    """Route, retry, fall back, charge the budget and log one completion. Raises BudgetExceeded, AIUnavailable."""
    return service.complete(db_session=db_session, organization_id=organization_id, user_id=user_id, task=task,
                            system=system, messages=messages, json_schema=json_schema, max_tokens=max_tokens,
                            temperature=temperature, model=model, prompt_version=prompt_version, settings=settings)


def stream(*, db_session, organization_id, user_id, task: str, system: str, messages: list[Message],
           json_schema: dict | None = None, max_tokens: int = 800, temperature: float = 0.7,
           model: str | None = None, prompt_version: str, settings=None) -> Stream:
    """Like complete(), yielding text deltas; logs and charges when the stream ends (`.completion` is then set).

    The budget check happens before the first delta; fallback happens only before the first delta was yielded.
    """
    return service.stream(db_session=db_session, organization_id=organization_id, user_id=user_id, task=task,
                          system=system, messages=messages, json_schema=json_schema, max_tokens=max_tokens,
                          temperature=temperature, model=model, prompt_version=prompt_version, settings=settings)


def log_generation(*, db_session, organization_id, user_id, task: str, provider: str, model: str,
                   prompt_version: str, input_tokens: int, output_tokens: int, cost_usd: Decimal,
                   latency_ms: float, status: str, error: str | None = None) -> uuid.UUID:
    """Write one ai_generations row (status "ok" | "error" | "refused") in the caller's transaction; does not
    commit. For calls that bypass complete()/stream(), e.g. the offline writer (provider "offline")."""
    return service.log_generation(db_session=db_session, organization_id=organization_id, user_id=user_id,
                                  task=task, provider=provider, model=model, prompt_version=prompt_version,
                                  input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost_usd,
                                  latency_ms=latency_ms, status=status, error=error)
