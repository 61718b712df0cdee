"""Gemini through the official `google-genai` SDK (Gemini Developer API: generateContent, streamGenerateContent);
structured output via `response_mime_type` application/json and `response_json_schema`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from google import genai
from google.genai import errors, types

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
    if isinstance(exc, errors.APIError):
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return ProviderError(f"gemini {exc.code}: {exc.message or exc.status}", status=exc.code,
                             retryable=retryable_status(exc.code), retry_after=retry_after_seconds(headers))
    if isinstance(exc, httpx.TransportError):  # timeouts and connection errors: the SDK speaks httpx
        return ProviderError(f"gemini: {type(exc).__name__}: {exc}", retryable=True)
    return ProviderError(f"gemini: {type(exc).__name__}: {exc}", retryable=False)


class GeminiProvider(Provider):
    name = "gemini"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        options = types.HttpOptions(
            base_url=settings.google_ai_base_url or None,
            timeout=int(settings.ai_timeout_seconds * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # one try: the router's tenacity retries
        )
        self.client = genai.Client(api_key=settings.google_ai_api_key.get_secret_value(), http_options=options)

    @staticmethod
    def configured(settings) -> bool:
        return settings.google_ai_api_key is not None

    def _arguments(self, request: Request) -> dict:
        config = types.GenerateContentConfig(
            system_instruction=request.system or None, max_output_tokens=request.max_tokens,
            temperature=request.temperature,
            response_mime_type="application/json" if request.json_schema is not None else None,
            response_json_schema=request.json_schema,
        )
        contents = [types.Content(role="model" if m.role == "assistant" else "user",
                                  parts=[types.Part(text=m.content)]) for m in request.messages]
        return {"model": request.model, "contents": contents, "config": config}

    def generate(self, request: Request) -> Result:
        try:
            response = self.client.models.generate_content(**self._arguments(request))
        except (errors.APIError, httpx.HTTPError) as exc:
            raise _error(exc) from exc
        text = response.text or ""
        usage = response.usage_metadata
        return Result(text=text, input_tokens=(usage.prompt_token_count or 0) if usage else 0,
                      output_tokens=(usage.candidates_token_count or 0) if usage else 0,
                      parsed=parse_json(text) if request.json_schema is not None else None)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        usage = Usage(0, 0)
        try:
            for chunk in self.client.models.generate_content_stream(**self._arguments(request)):
                if chunk.text:
                    yield chunk.text
                if chunk.usage_metadata:  # cumulative: the last chunk's counts are the call's
                    usage = Usage(chunk.usage_metadata.prompt_token_count or 0,
                                  chunk.usage_metadata.candidates_token_count or 0)
        except (errors.APIError, httpx.HTTPError) as exc:
            raise _error(exc) from exc
        yield usage
