"""The optional local provider: enabled only by llama-cpp-python plus a GGUF file, loaded from that path (never
downloaded). llama-cpp-python is not a dependency, so a stand-in module with its documented `Llama` interface
(`Llama(model_path=, n_ctx=, verbose=)`, `create_chat_completion` returning the OpenAI-shaped dict or chunks,
`tokenize`) takes its place."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from decimal import Decimal

import pytest

from serving.ai import llm
from serving.ai.llm import Message
from serving.ai.llm.models import AiRoute
from serving.ai.llm.providers import Request
from serving.ai.llm.providers.base import Usage
from serving.ai.llm.providers.local import LocalProvider
from serving.ai.llm.routing import default_chain
from serving.core.db import session_factory, tenant_session
from tests.conftest import make_settings


class FakeLlama:
    instances: list[FakeLlama] = []

    def __init__(self, *, model_path: str, n_ctx: int, verbose: bool) -> None:
        self.model_path, self.n_ctx, self.calls = model_path, n_ctx, []
        FakeLlama.instances.append(self)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        raise AssertionError("the local provider must never download a model")

    def create_chat_completion(self, **arguments):
        self.calls.append(arguments)
        text = '{"subject": "Hi", "body": "Local"}' if "response_format" in arguments else "Hello from GGUF"
        if arguments.get("stream"):
            return iter([{"choices": [{"delta": {"role": "assistant"}}]}]
                        + [{"choices": [{"delta": {"content": piece}}]} for piece in ("Hello", " from", " GGUF")]
                        + [{"choices": [{"delta": {}, "finish_reason": "stop"}]}])
        return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 17, "completion_tokens": 4, "total_tokens": 21}}

    def tokenize(self, data: bytes) -> list[int]:
        return list(range(len(data.split())))


@pytest.fixture
def llama_cpp(monkeypatch):
    module = types.ModuleType("llama_cpp")
    module.__spec__ = importlib.machinery.ModuleSpec("llama_cpp", None)
    module.Llama = FakeLlama
    FakeLlama.instances = []
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    return module


@pytest.fixture
def gguf(tmp_path):
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF")
    return path


def _settings(settings, **values):
    return make_settings(settings.owner_database_url, settings.home, **values)


def test_enabled_only_with_the_package_and_a_gguf_file(settings, gguf, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # not installed (find_spec raises for None)
    assert not LocalProvider.configured(_settings(settings))
    other = tmp_path / "model.bin"
    other.write_bytes(b"x")
    for path in (other, tmp_path / "missing.gguf"):
        assert not LocalProvider.configured(_settings(settings, AI_LOCAL_MODEL_PATH=str(path)))


def test_without_llama_cpp_a_gguf_path_does_not_enable_it(settings, gguf):
    if "llama_cpp" in sys.modules or importlib.util.find_spec("llama_cpp") is not None:
        pytest.skip("llama-cpp-python is installed here")
    assert not LocalProvider.configured(_settings(settings, AI_LOCAL_MODEL_PATH=str(gguf)))
    assert llm.offline(settings=_settings(settings, AI_LOCAL_MODEL_PATH=str(gguf)))


def test_generates_streams_and_follows_a_schema_from_the_file(settings, llama_cpp, gguf):
    local = _settings(settings, AI_LOCAL_MODEL_PATH=str(gguf), AI_LOCAL_CONTEXT_TOKENS="2048")
    assert LocalProvider.configured(local) and not llm.offline(settings=local)
    provider = LocalProvider(local)
    [model] = FakeLlama.instances
    assert (model.model_path, model.n_ctx) == (str(gguf), 2048)
    request = Request(model="local", system="Be brief.", messages=[Message("user", "Hi")], json_schema=None,
                      max_tokens=64, temperature=0.1)
    result = provider.generate(request)
    assert (result.text, result.input_tokens, result.output_tokens) == ("Hello from GGUF", 17, 4)
    assert model.calls[-1]["messages"] == [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": "Hi"}]
    schema = {"type": "object", "properties": {"subject": {"type": "string"}}}
    structured = provider.generate(Request(**{**request.__dict__, "json_schema": schema}))
    assert structured.parsed == {"subject": "Hi", "body": "Local"}
    assert model.calls[-1]["response_format"] == {"type": "json_object", "schema": schema}
    items = list(provider.stream(request))
    assert items[:-1] == ["Hello", " from", " GGUF"] and items[-1] == Usage(3, 3)


def test_routes_cheapest_first_for_classify_last_for_writing_and_costs_nothing(settings, llama_cpp, gguf, tenant):
    local = _settings(settings, AI_LOCAL_MODEL_PATH=str(gguf), OPENAI_API_KEY="sk-unused")
    assert default_chain(local, "classify")[0] == {"provider": "local", "model": "local"}
    assert [s["provider"] for s in default_chain(local, "draft")] == ["openai", "local"]
    tenant.add(AiRoute, task="summarize", chain=[{"provider": "local", "model": "local"}])
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        done = llm.complete(db_session=session, organization_id=tenant.organization_id, user_id=None,
                            task="summarize", system="s", messages=[Message("user", "u")], prompt_version="v",
                            settings=local)
    assert (done.provider, done.text, done.cost_usd) == ("local", "Hello from GGUF", Decimal(0))
