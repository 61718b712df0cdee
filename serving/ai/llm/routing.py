"""Which provider/model chain serves a task for an organization, and the provider clients (one per process)."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.ai.llm import pricing
from serving.ai.llm.models import AiRoute
from serving.ai.llm.providers import PROVIDER_CLASSES, Provider
from serving.ai.llm.types import TASKS
from serving.core.config import Settings
from serving.core.errors import ValidationFailed

_clients: dict[tuple, Provider] = {}
_clients_lock = threading.Lock()


def configured_providers(settings: Settings) -> list[str]:
    return [name for name, cls in PROVIDER_CLASSES.items() if cls.configured(settings)]


def provider(settings: Settings, name: str) -> Provider:
    """The provider's SDK client, built once per process and configuration (clients pool their connections)."""
    cls = PROVIDER_CLASSES[name]
    key = (name, _client_key(settings, name))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = cls(settings)
        return _clients[key]


def _client_key(settings: Settings, name: str) -> tuple:
    if name == "local":
        return (str(settings.ai_local_model_path), settings.ai_local_context_tokens)
    secret = {"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
              "gemini": settings.google_ai_api_key}[name]
    base = {"openai": settings.openai_base_url, "anthropic": settings.anthropic_base_url,
            "gemini": settings.google_ai_base_url}[name]
    return (secret.get_secret_value() if secret else None, base, settings.ai_timeout_seconds)


def default_chain(settings: Settings, task: str) -> list[dict]:
    """The chain when an organization set none: writing tasks by quality (anthropic → openai → gemini), classify
    and summarize cheapest first — one model per configured provider, so a fallback changes vendor."""
    available = configured_providers(settings)
    if task in pricing.CHEAP_TASKS:
        cheapest: dict[str, pricing.ModelPrice] = {}
        for price in pricing.MODELS.values():
            if price.provider in available and task in price.tasks:
                best = cheapest.get(price.provider)
                if best is None or _blended(price) < _blended(best):
                    cheapest[price.provider] = price
        return [{"provider": p.provider, "model": p.model} for p in sorted(cheapest.values(), key=_blended)]
    return [{"provider": name, "model": pricing.WRITING_MODEL[name]}
            for name in pricing.WRITING_ORDER if name in available]


def _blended(price: pricing.ModelPrice):
    # e-mails and labels read more than they write: weigh input 3:1
    return price.input_per_mtok * 3 + price.output_per_mtok


def stored_routes(db_session: Session, organization_id: uuid.UUID) -> dict[str, list[dict]]:
    rows = db_session.scalars(select(AiRoute).where(AiRoute.organization_id == organization_id))
    return {row.task: list(row.chain) for row in rows}


def chain_for(*, db_session: Session | None, organization_id: uuid.UUID | None, settings: Settings, task: str,
              model: str | None = None) -> list[dict]:
    """The ordered chain to try, keeping only providers whose key is configured; `model` (a caller's explicit
    choice, e.g. the playground) goes first."""
    chain = None
    if db_session is not None and organization_id is not None:
        chain = stored_routes(db_session, organization_id).get(task)
    if chain is None:
        chain = default_chain(settings, task)
    available = set(configured_providers(settings))
    if model is not None:
        price = pricing.price_of(model)
        if price is None:
            raise ValidationFailed(f"unknown model {model!r}", details={"model": model,
                                   "known": sorted(pricing.MODELS)})
        chain = [{"provider": price.provider, "model": model}] + [s for s in chain if s["model"] != model]
    return [step for step in chain if step["provider"] in available]


def validate_chain(task: str, chain: list[dict]) -> list[dict]:
    """A chain a PUT may store: known task, known provider/model pairs, no repeats."""
    if task not in TASKS:
        raise ValidationFailed(f"unknown task {task!r}", details={"task": task, "tasks": list(TASKS)})
    if not chain:
        raise ValidationFailed("a route needs at least one provider/model", details={"task": task})
    seen = set()
    for step in chain:
        if step["provider"] not in PROVIDER_CLASSES:
            raise ValidationFailed(f"unknown provider {step['provider']!r}",
                                   details={"provider": step["provider"], "providers": sorted(PROVIDER_CLASSES)})
        price = pricing.price_of(step["model"])
        if price is None or price.provider != step["provider"]:
            raise ValidationFailed(f"unknown model {step['model']!r} for provider {step['provider']!r}",
                                   details={"provider": step["provider"], "model": step["model"],
                                            "models": sorted(m for m, p in pricing.MODELS.items()
                                                             if p.provider == step["provider"])})
        if step["model"] in seen:
            raise ValidationFailed(f"model {step['model']!r} appears twice", details={"model": step["model"]})
        seen.add(step["model"])
    return [{"provider": s["provider"], "model": s["model"]} for s in chain]
