"""Each official SDK against its fake vendor: the request it sends (model, system, messages, schema), the answer,
usage and streaming, parsed from the vendor's documented wire format."""

from __future__ import annotations

import pytest

from serving.ai.llm import Message
from serving.ai.llm.providers import PROVIDER_CLASSES, ProviderError, Request
from serving.ai.llm.providers.base import Usage

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
          "required": ["subject", "body"], "additionalProperties": False}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-20241022", "gemini": "gemini-2.5-flash"}


def _request(provider: str, json_schema: dict | None = None) -> Request:
    return Request(model=MODELS[provider], system="You write short sales e-mails.",
                   messages=[Message("user", "Write to Ada."), Message("assistant", "Draft?"),
                             Message("user", "Yes, the draft.")],
                   json_schema=json_schema, max_tokens=321, temperature=0.2)


def _client(ai_settings, name):
    return PROVIDER_CLASSES[name](ai_settings)


def test_openai_chat_completions_request_and_usage(ai_settings, fake_vendors):
    fake_vendors.openai.reply("Hi Ada", input_tokens=31, output_tokens=7)
    result = _client(ai_settings, "openai").generate(_request("openai"))
    assert (result.text, result.input_tokens, result.output_tokens, result.parsed) == ("Hi Ada", 31, 7, None)
    sent = fake_vendors.openai.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-fake-openai"
    assert sent.body["model"] == "gpt-4o-mini" and sent.body["max_completion_tokens"] == 321
    assert sent.body["messages"] == [
        {"role": "system", "content": "You write short sales e-mails."}, {"role": "user", "content": "Write to Ada."},
        {"role": "assistant", "content": "Draft?"}, {"role": "user", "content": "Yes, the draft."}]
    assert "response_format" not in sent.body


def test_openai_structured_output_sends_the_json_schema(ai_settings, fake_vendors):
    fake_vendors.openai.reply_json({"subject": "Hello", "body": "Body"})
    result = _client(ai_settings, "openai").generate(_request("openai", SCHEMA))
    assert result.parsed == {"subject": "Hello", "body": "Body"}
    fmt = fake_vendors.openai.requests[-1].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == SCHEMA


def test_anthropic_messages_request_and_usage(ai_settings, fake_vendors):
    fake_vendors.anthropic.reply("Hi Ada", input_tokens=40, output_tokens=9)
    result = _client(ai_settings, "anthropic").generate(_request("anthropic"))
    assert (result.text, result.input_tokens, result.output_tokens) == ("Hi Ada", 40, 9)
    sent = fake_vendors.anthropic.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-fake"
    assert sent.body["system"] == "You write short sales e-mails."
    assert sent.body["model"] == "claude-3-5-haiku-20241022" and sent.body["max_tokens"] == 321
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]


def test_anthropic_structured_output_is_a_forced_tool(ai_settings, fake_vendors):
    fake_vendors.anthropic.reply_json({"subject": "Hello", "body": "Body"})
    result = _client(ai_settings, "anthropic").generate(_request("anthropic", SCHEMA))
    assert result.parsed == {"subject": "Hello", "body": "Body"}
    sent = fake_vendors.anthropic.requests[-1].body
    assert sent["tools"][0]["input_schema"] == SCHEMA
    assert sent["tool_choice"] == {"type": "tool", "name": sent["tools"][0]["name"]}


def test_gemini_generate_content_request_and_usage(ai_settings, fake_vendors):
    fake_vendors.gemini.reply("Hi Ada", input_tokens=50, output_tokens=11)
    result = _client(ai_settings, "gemini").generate(_request("gemini"))
    assert (result.text, result.input_tokens, result.output_tokens) == ("Hi Ada", 50, 11)
    sent = fake_vendors.gemini.requests[-1]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == "fake-gemini-key"
    assert sent.body["systemInstruction"]["parts"][0]["text"] == "You write short sales e-mails."
    assert [c["role"] for c in sent.body["contents"]] == ["user", "model", "user"]
    assert sent.body["generationConfig"]["maxOutputTokens"] == 321


def test_gemini_structured_output_sends_mime_type_and_schema(ai_settings, fake_vendors):
    fake_vendors.gemini.reply_json({"subject": "Hello", "body": "Body"})
    result = _client(ai_settings, "gemini").generate(_request("gemini", SCHEMA))
    assert result.parsed == {"subject": "Hello", "body": "Body"}
    config = fake_vendors.gemini.requests[-1].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == SCHEMA


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini"])
def test_streaming_yields_the_deltas_then_the_usage(ai_settings, fake_vendors, name):
    getattr(fake_vendors, name).reply("Hello Ada, a quick note about pricing.", input_tokens=12, output_tokens=8)
    items = list(_client(ai_settings, name).stream(_request(name)))
    deltas, usage = items[:-1], items[-1]
    assert len(deltas) > 1 and "".join(deltas) == "Hello Ada, a quick note about pricing."
    assert usage == Usage(12, 8)
    assert getattr(fake_vendors, name).requests[-1].streaming


@pytest.mark.parametrize(("name", "status", "retryable"),
                         [(n, s, r) for n in ("openai", "anthropic", "gemini")
                          for s, r in ((429, True), (503, True), (400, False), (401, False))])
def test_vendor_errors_are_classified_for_retry(ai_settings, fake_vendors, name, status, retryable):
    getattr(fake_vendors, name).fail(status, retry_after=2)
    with pytest.raises(ProviderError) as caught:
        _client(ai_settings, name).generate(_request(name))
    assert caught.value.status == status and caught.value.retryable is retryable
    assert caught.value.retry_after == 2
    assert len(getattr(fake_vendors, name).requests) == 1  # the SDK's own retries are off
