"""The models the layer knows, their list prices and the tasks each serves.

Prices are USD per 1M tokens (input, output), standard tier, no batch or cache discounts, copied from the vendors'
public pricing pages — https://openai.com/api/pricing, https://www.anthropic.com/pricing#api,
https://ai.google.dev/gemini-api/docs/pricing — as they stood on PRICES_AS_OF. Vendors change them: update the
table and the date together. A model missing here cannot be routed to (PUT /ai/routing refuses it), so the cost
of every call is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

PRICES_AS_OF = "2025-06-01"
_MTOK = Decimal(1_000_000)
ALL_TASKS = ("draft", "rewrite", "classify", "summarize")
CHEAP_TASKS = ("classify", "summarize")


@dataclass(frozen=True)
class ModelPrice:
    provider: str
    model: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    tasks: tuple[str, ...]


def _m(provider: str, model: str, usd_in: str, usd_out: str, tasks: tuple[str, ...] = ALL_TASKS) -> ModelPrice:
    return ModelPrice(provider, model, Decimal(usd_in), Decimal(usd_out), tasks)


MODELS: dict[str, ModelPrice] = {m.model: m for m in (
    _m("openai", "gpt-4o", "2.50", "10.00"),
    _m("openai", "gpt-4.1-mini", "0.40", "1.60"),
    _m("openai", "gpt-4o-mini", "0.15", "0.60"),
    _m("anthropic", "claude-sonnet-4-20250514", "3.00", "15.00"),
    _m("anthropic", "claude-3-5-haiku-20241022", "0.80", "4.00"),
    _m("gemini", "gemini-2.5-pro", "1.25", "10.00"),
    _m("gemini", "gemini-2.5-flash", "0.30", "2.50"),
    _m("gemini", "gemini-2.0-flash", "0.10", "0.40", CHEAP_TASKS),
    _m("local", "local", "0", "0"),  # AI_LOCAL_MODEL_PATH through llama-cpp-python: no price per token
)}

# The model a provider writes with by default (drafting quality matters more than its price per token).
WRITING_MODEL = {"anthropic": "claude-sonnet-4-20250514", "openai": "gpt-4o", "gemini": "gemini-2.5-flash",
                 "local": "local"}
# a small local model writes worst: the last resort before the offline writer
WRITING_ORDER = ("anthropic", "openai", "gemini", "local")


def cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """The list price of one call, to a millionth of a dollar (what ai_generations.cost_usd stores), rounded up:
    a budget may be charged a fraction of a cent too much, never a call too little."""
    price = MODELS[model]
    total = (price.input_per_mtok * input_tokens + price.output_per_mtok * output_tokens) / _MTOK
    return total.quantize(Decimal("0.000001"), rounding=ROUND_CEILING)


def price_of(model: str) -> ModelPrice | None:
    return MODELS.get(model)
