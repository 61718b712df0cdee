"""The model layer's values and errors: what callers (the writer, the playground, the BDR agent) see."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from serving.core.errors import AppError, ServiceUnavailable

TASKS = ("draft", "rewrite", "classify", "summarize")
PROVIDERS = ("openai", "anthropic", "gemini", "local")


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    parsed: dict | None  # the JSON object when a json_schema was given, else None
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: float
    # every provider/model tried, in order: {"provider", "model", "status": "ok"|"error", "error", "latency_ms"}
    attempts: list[dict] = field(default_factory=list)
    generation_id: object | None = None  # the ai_generations row that logged this call


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    tasks: tuple[str, ...]
    available: bool  # the provider's key is configured


class AIUnavailable(ServiceUnavailable):
    """Every provider/model on the route failed (after its retries): the documented 503."""

    code = "AI_UNAVAILABLE"


class BudgetExceeded(AppError):
    """The organization's monthly AI budget would be passed; details: cap, spent, estimate, period, resets_at."""

    status_code = 402
    code = "AI_BUDGET_EXCEEDED"


class Stream(Iterator[str]):
    """Text deltas of a streamed completion; `.completion` holds the whole result once the stream has ended."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.completion: Completion | None = None

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        return next(self._chunks)
