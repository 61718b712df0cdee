"""The embedding model this install uses (`EMBEDDINGS_PROVIDER`): offline MiniLM by default, OpenAI when chosen
and keyed."""

from __future__ import annotations

from functools import lru_cache

from models.embeddings import Embedder, OpenAIEmbedder, local_embedder
from serving.core.config import Settings, get_settings
from serving.core.errors import ServiceUnavailable


@lru_cache(maxsize=4)
def _openai(api_key: str, base_url: str | None) -> OpenAIEmbedder:
    return OpenAIEmbedder(api_key=api_key, base_url=base_url)


def configured_embedder(settings: Settings | None = None) -> Embedder:
    settings = settings or get_settings()
    if settings.embeddings_provider == "openai":
        if settings.openai_api_key is None:
            raise ServiceUnavailable("EMBEDDINGS_PROVIDER=openai needs OPENAI_API_KEY", code="EMBEDDINGS_UNAVAILABLE")
        return _openai(settings.openai_api_key.get_secret_value(), settings.openai_base_url)
    return local_embedder()
