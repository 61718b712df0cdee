"""EMBEDDINGS_PROVIDER=openai: the official SDK talks to a local server speaking OpenAI's documented embeddings
wire format (`POST /v1/embeddings`, float or base64 vectors, 429 with Retry-After); vectors are stored with their
model, and a search compares only vectors of the model in use."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sqlalchemy import text

from models.embeddings import DIMENSIONS, OpenAIEmbedder
from serving.core.db import session_factory, tenant_session
from serving.knowledge import service
from serving.knowledge.embedding import configured_embedder
from tests.conftest import make_settings


def _vector(text_in: str) -> np.ndarray:
    """Deterministic: texts sharing their first word get nearby vectors (enough to rank in a test)."""
    first = text_in.lower().split()[0] if text_in.split() else ""
    base = np.frombuffer(hashlib.sha512(first.encode()).digest() * 6, dtype=np.uint8)[:DIMENSIONS].astype(float)
    noise = np.frombuffer(hashlib.sha512(text_in.encode()).digest() * 6, dtype=np.uint8)[:DIMENSIONS].astype(float)
    vector = (base - 127.5) + 0.1 * (noise - 127.5)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict] = []
    throttle_next = 0

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if FakeOpenAI.throttle_next:
            FakeOpenAI.throttle_next -= 1
            payload = {"error": {"message": "Rate limit reached", "type": "requests", "param": None,
                                 "code": "rate_limit_exceeded"}}
            return self._send(429, payload, {"Retry-After": "0", "x-should-retry": "true"})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, item in enumerate(inputs):
            vector = _vector(item)[: body.get("dimensions", DIMENSIONS)]
            encoded = (base64.b64encode(vector.astype("<f4").tobytes()).decode()
                       if body.get("encoding_format") == "base64" else vector.tolist())
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        self._send(200, {"object": "list", "data": data, "model": body["model"],
                         "usage": {"prompt_tokens": 8 * len(inputs), "total_tokens": 8 * len(inputs)}})

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def openai_server() -> Iterator[str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_the_sdk_speaks_the_documented_wire_format_and_retries_429(openai_server):
    embedder = OpenAIEmbedder(api_key="sk-test", base_url=openai_server)
    FakeOpenAI.throttle_next = 1
    vectors = embedder.embed(["pricing tiers", "shipping times"])
    assert vectors.shape == (2, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[0], _vector("pricing tiers"), atol=1e-6)
    sent = FakeOpenAI.requests
    assert len(sent) == 2  # the 429, then the retry
    assert sent[-1]["path"] == "/v1/embeddings" and sent[-1]["auth"] == "Bearer sk-test"
    assert sent[-1]["model"] == "text-embedding-3-small" and sent[-1]["dimensions"] == DIMENSIONS
    assert sent[-1]["input"] == ["pricing tiers", "shipping times"]


def test_stored_vectors_record_their_model_and_searches_compare_only_that_model(openai_server, settings, tenant):
    openai_settings = make_settings(settings.owner_database_url, settings.home, EMBEDDINGS_PROVIDER="openai",
                                    OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_server)
    remote = configured_embedder(openai_settings)
    assert isinstance(remote, OpenAIEmbedder)
    local = configured_embedder(make_settings(settings.owner_database_url, settings.home))
    # the API role under the tenant's row-level security, as a request runs (the owner would see every tenant)
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        service.add_source(db_session=session, organization_id=tenant.organization_id, source_type="document",
                           title="Pricing", text_content="pricing starts at 49 dollars", embedder=remote)
        service.add_source(db_session=session, organization_id=tenant.organization_id, source_type="document",
                           title="Shipping", text_content="shipping takes six weeks", embedder=local)
        models = dict(session.execute(text("select title, embedding_model from app.knowledge_documents "
                                           "where organization_id = :org"), {"org": tenant.organization_id}).all())
        assert models == {"Pricing": "text-embedding-3-small", "Shipping": "all-MiniLM-L6-v2"}
        found = service.match(db_session=session, query="pricing plans", threshold=-1, limit=10, embedder=remote)
        assert [m["title"] for m in found] == ["Pricing"]
        found = service.match(db_session=session, query="shipping", threshold=-1, limit=10, embedder=local)
        assert [m["title"] for m in found] == ["Shipping"]


def test_openai_without_a_key_is_a_clear_error(settings):
    from serving.core.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="OPENAI_API_KEY"):
        configured_embedder(make_settings(settings.owner_database_url, settings.home, EMBEDDINGS_PROVIDER="openai"))
