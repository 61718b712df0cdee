"""A local GGUF model through `llama-cpp-python`, when the user installed it (it is not a dependency).

Enabled only when the package is importable and AI_LOCAL_MODEL_PATH names an existing `.gguf` file: the model
is loaded from that path, never downloaded (`Llama.from_pretrained` is not used). One model per process; llama.cpp
contexts are not thread-safe, so calls take turns. Costs nothing per token (pricing: model "local").
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

from serving.ai.llm.providers.base import Provider, ProviderError, Request, Result, Usage, parse_json

MODEL = "local"


class LocalProvider(Provider):
    name = "local"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        llama_cpp = importlib.import_module("llama_cpp")
        self._lock = threading.Lock()
        self.model = llama_cpp.Llama(model_path=str(settings.ai_local_model_path),
                                     n_ctx=settings.ai_local_context_tokens, verbose=False)

    @staticmethod
    def configured(settings) -> bool:
        path = settings.ai_local_model_path
        return (path is not None and Path(path).suffix.lower() == ".gguf" and Path(path).is_file()
                and importlib.util.find_spec("llama_cpp") is not None)

    def _arguments(self, request: Request) -> dict:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        arguments = {"messages": messages, "max_tokens": request.max_tokens, "temperature": request.temperature}
        if request.json_schema is not None:
            # llama-cpp-python's JSON-schema mode: a grammar constrains the sampling to the schema
            arguments["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return arguments

    def generate(self, request: Request) -> Result:
        try:
            with self._lock:
                response = self.model.create_chat_completion(**self._arguments(request))
        except (RuntimeError, ValueError) as exc:  # llama.cpp: context overflow, decode failure (not transient)
            raise ProviderError(f"local: {exc}", retryable=False) from exc
        text = response["choices"][0]["message"].get("content") or ""
        usage = response.get("usage") or {}
        return Result(text=text, input_tokens=usage.get("prompt_tokens", 0),
                      output_tokens=usage.get("completion_tokens", 0),
                      parsed=parse_json(text) if request.json_schema is not None else None)

    def stream(self, request: Request) -> Iterator[str | Usage]:
        arguments = self._arguments(request)
        produced = 0
        try:
            with self._lock:
                for chunk in self.model.create_chat_completion(**arguments, stream=True):
                    piece = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
                    if piece:
                        produced += 1  # llama.cpp streams one token per chunk
                        yield piece
                prompt = "\n".join(m["content"] for m in arguments["messages"]).encode()
                prompt_tokens = len(self.model.tokenize(prompt))
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(f"local: {exc}", retryable=False) from exc
        yield Usage(prompt_tokens, produced)
