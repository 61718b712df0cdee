"""One adapter per vendor SDK, all behind `Provider` (base.py); `PROVIDER_CLASSES` is the registry."""

from __future__ import annotations

from serving.ai.llm.providers.anthropic import AnthropicProvider
from serving.ai.llm.providers.base import Provider, ProviderError, Request, Result
from serving.ai.llm.providers.gemini import GeminiProvider
from serving.ai.llm.providers.local import LocalProvider
from serving.ai.llm.providers.openai import OpenAIProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "local": LocalProvider,  # llama-cpp-python and a GGUF file, when the user installed both
}

__all__ = ["PROVIDER_CLASSES", "Provider", "ProviderError", "Request", "Result"]
