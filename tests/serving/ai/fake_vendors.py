"""Fake OpenAI, Anthropic and Gemini endpoints at the HTTP boundary, so the real SDKs run in the tests.

One threaded local HTTP server per vendor, speaking its documented wire format:

- OpenAI Chat Completions: `POST /v1/chat/completions`; streaming as `data: {chat.completion.chunk}` lines ending in
  `data: [DONE]`, usage in a last chunk with empty `choices` when `stream_options.include_usage` is set; errors as
  `{"error": {"message", "type", "param", "code"}}`.
- Anthropic Messages: `POST /v1/messages`; streaming as SSE events `message_start` (input usage),
  `content_block_start`, `ping`, `content_block_delta` (`text_delta`), `content_block_stop`, `message_delta`
  (stop reason, output usage), `message_stop`; a JSON answer to a request with `tools` comes back as a `tool_use`
  block; errors as `{"type": "error", "error": {"type": "rate_limit_error", "message"}}`.
- Gemini: `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse` (`data: {...}`
  chunks, cumulative `usageMetadata`); errors as `{"error": {"code", "message", "status"}}`.

Use (the `fake_vendors` fixture in tests/serving/ai/conftest.py does the first two lines)::

    with running_vendors() as vendors:
        settings = make_settings(db_url, home, **vendors.env())      # keys + base URLs for all three
        vendors.answer_json({"subject": "Hi", "body": "..."})        # every vendor answers this until told otherwise
        vendors.anthropic.fail(429, retry_after=1)                   # the next Anthropic call: a 429, then the default
        vendors.openai.reply("one-off text", input_tokens=10, output_tokens=5)   # queued, used once
        vendors.gemini.down()                                        # every Gemini call: 503 until .up()
        ...
        vendors.anthropic.requests[-1].body["system"]                # what the SDK sent (path, headers, body, query)

`env(only=("openai",))` configures only some vendors. Queued replies are used first, then the default.
`Reply(delay=...)` holds an answer back (concurrency and timeout tests).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    text: str = "Hello from the fake vendor."
    json: dict | None = None          # a structured answer (rendered per vendor; see the module docstring)
    status: int = 200
    headers: dict = field(default_factory=dict)
    input_tokens: int = 20
    output_tokens: int = 10
    delay: float = 0.0
    message: str = "scripted failure"

    def answer_text(self) -> str:
        return json.dumps(self.json) if self.json is not None else self.text


@dataclass
class Recorded:
    path: str
    query: dict
    headers: dict
    body: dict

    @property
    def streaming(self) -> bool:
        return bool(self.body.get("stream")) or "streamGenerateContent" in self.path


def _pieces(text: str, n: int = 3) -> list[str]:
    if not text:
        return [""]
    size = max(1, -(-len(text) // n))
    return [text[i:i + size] for i in range(0, len(text), size)]


class FakeVendor:
    name = ""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.default = Reply(text=f"Hello from fake {self.name}.")
        self._down = False
        self._lock = threading.Lock()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                parts = urlsplit(self.path)
                recorded = Recorded(path=parts.path, query=parse_qs(parts.query),
                                    headers={k.lower(): v for k, v in self.headers.items()}, body=json.loads(raw))
                reply = vendor._next(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status >= 400:
                    return self._send(reply.status, vendor.error_body(reply), reply.headers)
                if recorded.streaming:
                    return self._sse(vendor.sse_events(recorded, reply))
                return self._send(200, vendor.body(recorded, reply), reply.headers)

            def _send(self, status: int, payload: dict, headers: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, str(value))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[str]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
                for event in events:
                    self.wfile.write(event.encode())
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- scripting --------------------------------------------------------------------------------------------
    def reply(self, text: str = "", **values) -> FakeVendor:
        self.script.append(Reply(text=text, **values))
        return self

    def reply_json(self, value: dict, **values) -> FakeVendor:
        self.script.append(Reply(json=value, **values))
        return self

    def fail(self, status: int, *, retry_after: float | None = None, times: int = 1, message: str = "") -> FakeVendor:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self.script.append(Reply(status=status, headers=headers, message=message or f"fake {status}"))
        return self

    def answer(self, text: str = "", **values) -> FakeVendor:
        self.default = Reply(text=text, **values)
        return self

    def answer_json(self, value: dict, **values) -> FakeVendor:
        self.default = Reply(json=value, **values)
        return self

    def down(self) -> FakeVendor:
        self._down = True
        return self

    def up(self) -> FakeVendor:
        self._down = False
        return self

    def reset(self) -> None:
        self.requests.clear()
        self.script.clear()
        self.default = Reply(text=f"Hello from fake {self.name}.")
        self._down = False

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._down:
                return Reply(status=503, message=f"fake {self.name} is down")
            return self.script.popleft() if self.script else self.default

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- wire formats (per vendor) ----------------------------------------------------------------------------
    def base_url(self) -> str:
        raise NotImplementedError

    def body(self, request: Recorded, reply: Reply) -> dict:
        raise NotImplementedError

    def sse_events(self, request: Recorded, reply: Reply) -> list[str]:
        raise NotImplementedError

    def error_body(self, reply: Reply) -> dict:
        raise NotImplementedError


class FakeOpenAI(FakeVendor):
    name = "openai"

    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def body(self, request: Recorded, reply: Reply) -> dict:
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
                "model": request.body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": reply.answer_text(), "refusal": None}}],
                "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                          "total_tokens": reply.input_tokens + reply.output_tokens}}

    def sse_events(self, request: Recorded, reply: Reply) -> list[str]:
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request.body.get("model")}
        chunks = [base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                       "finish_reason": None}]} for piece in _pieces(reply.answer_text())]
        chunks.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (request.body.get("stream_options") or {}).get("include_usage"):
            chunks.append(base | {"choices": [], "usage": {
                "prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens}})
        return [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]

    def error_body(self, reply: Reply) -> dict:
        kind = {429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}.get(
            reply.status, "server_error")
        return {"error": {"message": reply.message, "type": kind, "param": None, "code": kind}}


class FakeAnthropic(FakeVendor):
    name = "anthropic"
    ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                   529: "overloaded_error"}

    def base_url(self) -> str:
        return self.origin

    def body(self, request: Recorded, reply: Reply) -> dict:
        tools = request.body.get("tools") or []
        if reply.json is not None and tools:
            content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": tools[0]["name"],
                        "input": reply.json}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": reply.answer_text()}], "end_turn"
        return {"id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant",
                "model": request.body.get("model"), "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}}

    def sse_events(self, request: Recorded, reply: Reply) -> list[str]:
        def event(name: str, data: dict) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        message = {"id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant",
                   "model": request.body.get("model"), "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1}}
        events = [event("message_start", {"type": "message_start", "message": message}),
                  event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}}),
                  event("ping", {"type": "ping"})]
        events += [event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "text_delta", "text": piece}})
                   for piece in _pieces(reply.answer_text())]
        events += [event("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                           "usage": {"output_tokens": reply.output_tokens}}),
                   event("message_stop", {"type": "message_stop"})]
        return events

    def error_body(self, reply: Reply) -> dict:
        kind = self.ERROR_TYPES.get(reply.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": reply.message}}


class FakeGemini(FakeVendor):
    name = "gemini"
    STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

    def base_url(self) -> str:
        return f"{self.origin}/"

    @staticmethod
    def model_of(request: Recorded) -> str:
        return request.path.rsplit("/", 1)[-1].split(":", 1)[0]

    def _chunk(self, request: Recorded, text: str, reply: Reply, *, output_tokens: int, finish: bool) -> dict:
        candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate],
                "usageMetadata": {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": output_tokens,
                                  "totalTokenCount": reply.input_tokens + output_tokens},
                "modelVersion": self.model_of(request)}

    def body(self, request: Recorded, reply: Reply) -> dict:
        return self._chunk(request, reply.answer_text(), reply, output_tokens=reply.output_tokens, finish=True)

    def sse_events(self, request: Recorded, reply: Reply) -> list[str]:
        pieces = _pieces(reply.answer_text())
        chunks = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            # usage is cumulative: the last chunk carries the call's full count
            tokens = reply.output_tokens if last else max(1, reply.output_tokens * (index + 1) // len(pieces))
            chunks.append(self._chunk(request, piece, reply, output_tokens=tokens, finish=last))
        return [f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks]

    def error_body(self, reply: Reply) -> dict:
        return {"error": {"code": reply.status, "message": reply.message,
                          "status": self.STATUSES.get(reply.status, "UNKNOWN")}}


class FakeVendors:
    def __init__(self) -> None:
        self.openai = FakeOpenAI()
        self.anthropic = FakeAnthropic()
        self.gemini = FakeGemini()

    @property
    def all(self) -> tuple[FakeVendor, ...]:
        return (self.openai, self.anthropic, self.gemini)

    def env(self, only: tuple[str, ...] = ("openai", "anthropic", "gemini")) -> dict[str, str]:
        """Settings overrides (for `tests.conftest.make_settings`) pointing the SDKs at these servers, with fast
        retries so a test with 429s takes milliseconds."""
        values = {"AI_RETRY_BASE_SECONDS": "0.01", "AI_RETRY_MAX_SECONDS": "2", "AI_TIMEOUT_SECONDS": "5"}
        if "openai" in only:
            values |= {"OPENAI_API_KEY": "sk-fake-openai", "OPENAI_BASE_URL": self.openai.base_url()}
        if "anthropic" in only:
            values |= {"ANTHROPIC_API_KEY": "sk-ant-fake", "ANTHROPIC_BASE_URL": self.anthropic.base_url()}
        if "gemini" in only:
            values |= {"GOOGLE_AI_API_KEY": "fake-gemini-key", "GOOGLE_AI_BASE_URL": self.gemini.base_url()}
        return values

    def answer(self, text: str, **values) -> None:
        for vendor in self.all:
            vendor.answer(text, **values)

    def answer_json(self, value: dict, **values) -> None:
        """Every vendor answers this JSON object (e.g. the writer's {subject, body}) until told otherwise."""
        for vendor in self.all:
            vendor.answer_json(value, **values)

    def reset(self) -> None:
        for vendor in self.all:
            vendor.reset()

    def requests(self) -> list[tuple[str, Recorded]]:
        return [(vendor.name, request) for vendor in self.all for request in vendor.requests]

    def close(self) -> None:
        for vendor in self.all:
            vendor.close()


@contextmanager
def running_vendors() -> Iterator[FakeVendors]:
    vendors = FakeVendors()
    try:
        yield vendors
    finally:
        vendors.close()
