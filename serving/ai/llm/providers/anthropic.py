"""Anthropic Messages through the official `anthropic` SDK.

Structured output: a forced tool whose `input_schema` is the schema (the tool call's input is the answer). When
streaming, the text deltas must carry the answer, so the schema goes into the system prompt and the text is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic

from serving.ai.llm.providers.base import (
    Provider,
    ProviderError,
    Request,
    Result,
    Usage,
    parse_json,
    retry_after_seconds,
    retryable_status,
    schema_instructions,
)

TOOL = "answer"


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        return ProviderError(f"anthropic {exc.status_code}: {exc.message}", status=exc.status_code,
                             retryable=retryable_status(exc.status_code),
                             retry_after=retry_after_seconds(exc.response.headers))
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return ProviderError(f"anthropic: {type(exc).__name__}: {exc}", retryable=True)
    return ProviderError(f"anthropic: {type(exc).__name__}: {exc}", retryable=False)


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.client = anthropic.Anthropic(api_key=settings.anthropic_api_key.get_secret_value(),
                                          base_url=settings.anthropic_base_url or None,
                                          timeout=settings.ai_timeout_seconds, max_retries=0)

    @staticmethod
    def configured(settings) -> bool:
        return settings.anthropic_api_key is not None

    def _arguments(self, request: Request, *, system: str) -> dict:
        arguments = {"model": request.model, "max_tokens": request.max_tokens, "temperature": request.temperature,
                     "messages": [{"role": m.role, "content": m.content} for m in request.messages]}
        if system:
            arguments["system"] = system
        return arguments

    def generate(self, request: Request) -> Result:
        arguments = self._arguments(request, system=request.system)
        if request.json_schema is not None:
            arguments["tools"] = [{"name": TOOL, "description": "Give the answer.",
                                   "input_schema": request.json_schema}]
            arguments["tool_choice"] = {"type": "tool", "name": TOOL}
        try:
            message = self.client.messages.create(**arguments)
        except anthropic.AnthropicError as exc:
            raise _error(exc) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        parsed = None
        if request.json_schema is not None:
            calls = [block for block in message.content if block.type == "tool_use" and block.name == TOOL]
            parsed = dict(calls[0].input) if calls else parse_json(text)
            text = text or json.dumps(parsed, ensure_ascii=False)
        return Result(text=text, input_tokens=message.usage.input_tokens,
                      output_tokens=message.usage.output_tokens, parsed=parsed)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        system = request.system
        if request.json_schema is not None:
            system = f"{system}\n\n{schema_instructions(request.json_schema)}".strip()
        try:
            with self.client.messages.stream(**self._arguments(request, system=system)) as events:
                yield from events.text_stream
                final = events.get_final_message()
        except anthropic.AnthropicError as exc:
            raise _error(exc) from exc
        yield Usage(final.usage.input_tokens, final.usage.output_tokens)
