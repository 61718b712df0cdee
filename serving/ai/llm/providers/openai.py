"""OpenAI Chat Completions through the official `openai` SDK; structured output via `response_format` json_schema."""

from __future__ import annotations

from collections.abc import Iterator

import openai

from serving.ai.llm.providers.base import (
    Provider,
    ProviderError,
    Request,
    Result,
    Usage,
    parse_json,
    retry_after_seconds,
    retryable_status,
)


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(f"openai {exc.status_code}: {exc.message}", status=exc.status_code,
                             retryable=retryable_status(exc.status_code),
                             retry_after=retry_after_seconds(exc.response.headers))
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return ProviderError(f"openai: {type(exc).__name__}: {exc}", retryable=True)
    return ProviderError(f"openai: {type(exc).__name__}: {exc}", retryable=False)


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        # max_retries=0: tenacity in the router is the one retry policy (with Retry-After and fallback)
        self.client = openai.OpenAI(api_key=settings.openai_api_key.get_secret_value(),
                                    base_url=settings.openai_base_url or None,
                                    timeout=settings.ai_timeout_seconds, max_retries=0)

    @staticmethod
    def configured(settings) -> bool:
        return settings.openai_api_key is not None

    def _arguments(self, request: Request) -> dict:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        arguments = {"model": request.model, "messages": messages, "max_completion_tokens": request.max_tokens,
                     "temperature": request.temperature}
        if request.json_schema is not None:
            arguments["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": request.json_schema}}
        return arguments

    def generate(self, request: Request) -> Result:
        try:
            response = self.client.chat.completions.create(**self._arguments(request))
        except openai.OpenAIError as exc:
            raise _error(exc) from exc
        text = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        return Result(text=text, input_tokens=usage.prompt_tokens if usage else 0,
                      output_tokens=usage.completion_tokens if usage else 0,
                      parsed=parse_json(text) if request.json_schema is not None else None)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        try:
            chunks = self.client.chat.completions.create(**self._arguments(request), stream=True,
                                                         stream_options={"include_usage": True})
            usage = Usage(0, 0)
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
                if chunk.usage:  # the last chunk, with include_usage
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        except openai.OpenAIError as exc:
            raise _error(exc) from exc
        yield usage
