"""What every provider adapter implements, and the one error type the retry and fallback logic reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from serving.ai.llm.types import Message
from serving.core.config import Settings


@dataclass(frozen=True)
class Request:
    model: str
    system: str
    messages: list[Message]
    json_schema: dict | None
    max_tokens: int
    temperature: float


@dataclass(frozen=True)
class Result:
    text: str
    input_tokens: int
    output_tokens: int
    parsed: dict | None = None


@dataclass(frozen=True)
class Usage:
    """The last item of a provider's stream: the tokens the vendor counted."""

    input_tokens: int
    output_tokens: int


class ProviderError(Exception):
    """A vendor call failed. `retryable`: 429, 5xx, timeouts, connection errors — never 400/401/403/404."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def retryable_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


def retry_after_seconds(headers) -> float | None:
    """The wait a 429/503 asks for: `retry-after-ms` (OpenAI, Anthropic) or `retry-after` in seconds."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            continue  # an HTTP date: rare from these APIs; the exponential backoff covers it
    return None


def schema_instructions(json_schema: dict) -> str:
    """For paths without native structured output: the instruction that makes the model answer in JSON."""
    return ("Answer with one JSON object only, no prose and no code fence, valid against this JSON schema:\n"
            + json.dumps(json_schema))


def parse_json(text: str) -> dict:
    """The JSON object in a model's answer (tolerating a code fence); ProviderError when there is none."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("\n") + 1:] if "\n" in stripped else stripped
    start, end = stripped.find("{"), stripped.rfind("}")
    try:
        value = json.loads(stripped[start:end + 1]) if start >= 0 and end > start else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        # the model did not follow the schema: another model may, so the router moves on
        raise ProviderError("the model's answer is not the JSON object the schema asks for", retryable=False)
    return value


class Provider:
    """An adapter over one vendor SDK. Clients are built once per process (see `serving.ai.llm.router.provider`)."""

    name: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def configured(settings: Settings) -> bool:
        raise NotImplementedError

    def generate(self, request: Request) -> Result:
        raise NotImplementedError

    def stream(self, request: Request) -> Iterator[str | Usage]:
        """Text deltas, then one `Usage`."""
        raise NotImplementedError
