"""Calls the AI pages make to the API as the signed-in user: plain calls (session.api_call) and the writer's
streamed preview (Server-Sent Events). The dashboards never write to the database: every action goes through
the API, which checks the role, the checker and the budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from dashboards.components import session


def stream_draft(token: str, body: dict[str, Any], result: dict[str, Any]) -> Iterator[str]:
    """Yield the preview's text deltas; the stored draft (or the API's error) lands in `result` at the end."""
    try:
        with httpx.stream("POST", f"{session.api_url()}/api/v1/ai/emails/generate/stream", json=body,
                          headers={"Authorization": f"Bearer {token}"}, timeout=120) as response:
            if response.status_code >= 400:
                response.read()
                try:
                    result["error"] = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    result["error"] = response.text[:200]
                return
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if name == "delta":
                        yield data["text"]
                    elif name == "draft":
                        result["draft"] = data
                    elif name == "error":
                        result["error"] = data["error"]["message"]
    except httpx.HTTPError as exc:
        result["error"] = f"The API at {session.api_url()} is not reachable ({exc.__class__.__name__})."
