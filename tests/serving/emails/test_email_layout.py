"""The emails routers stay thin: queries and writes live in the services, and the unauthenticated
endpoints are in a file of their own (the security boundary is a file boundary)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import serving.emails

ROUTERS = ("router.py", "tracking_router.py")
# Session methods that read or write the database; a router hands the session to a service instead.
QUERYING = {"add", "add_all", "delete", "execute", "flush", "get", "merge", "query", "scalar", "scalars"}


def _calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"select", "insert", "update", "delete", "text"}:
            found.append(f"{path.name}:{node.lineno} {func.id}(")
        if (
            isinstance(func, ast.Attribute)
            and func.attr in QUERYING
            and isinstance(func.value, ast.Name)
            and func.value.id in {"db", "db_session", "session"}
        ):
            found.append(f"{path.name}:{node.lineno} {func.value.id}.{func.attr}(")
    return found


def test_emails_routers_hold_no_queries():
    folder = Path(serving.emails.__file__).parent
    assert [call for name in ROUTERS for call in _calls(folder / name)] == []


def test_only_the_tracking_router_is_unauthenticated():
    from serving.emails import router, tracking_router

    def takes_principal(route) -> bool:
        return "principal" in inspect.signature(route.endpoint).parameters

    assert {route.path for route in tracking_router.router.routes} == {
        "/t/o/{token}.gif",
        "/t/c/{token}",
        "/unsubscribe/{token}",
    }
    assert not any(takes_principal(route) for route in tracking_router.router.routes)
    signed_in = [r for m in (router.router, router.templates_router, router.mailboxes_router) for r in m.routes]
    assert signed_in and [r.path for r in signed_in if not takes_principal(r)] == []
