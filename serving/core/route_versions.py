"""FastAPI 0.165's nested-router matching made cheap: one process-wide routes version, and a prefix check before
an included router's routes are scanned.

FastAPI 0.165 resolves an included router's routes lazily and caches them under a "routes version": on every
request, at every nesting level, `APIRouter._get_routes_version()` walks the whole subtree of included routers to
sum their change counters, only to find that nothing changed. With ~40 routers under `/api/v1` that walk was 13 %
of the API's CPU under load (py-spy, `bench_api`, docs/performance.md).

Here every router's changes (`_mark_routes_changed`, which FastAPI calls on every route or router added) bump one
process-wide counter, and a router's version is that counter: any change anywhere invalidates every cache, which
is at least as conservative as the subtree sum (the caches only compare versions for equality), and reading it
costs nothing.

Matching then scanned every route of every included router in turn (a regular expression each, and two scope
keys set and restored around each): `/api/v1/search`, included late, was tried against most of the API's routes,
and that scan was 15 % of the search API's CPU (py-spy). An included router now first compares the request's path
with the literal text every one of its routes starts with (its prefix, up to the first `{`): a router none of
whose routes can match is passed over with one `str.startswith`. A route whose path says nothing (a host route,
FastAPI's frontend group) gives its router no literal text, and that router is scanned as before. Within a router
whose prefix does match, each route is passed over the same way when its own literal text does not start the
path (`/prospects/{id}` is not tried against `/prospects/export`, `/prospects/views`, …): FastAPI 0.165's
`_IncludedRouter._match` is replaced by the same loop with that one test first, so it is only installed on the
FastAPI version it was written against (`MATCH_VERSION`).

If a later FastAPI no longer has these methods, nothing is patched and routing works as shipped.
"""

from __future__ import annotations

import itertools
import os
import threading

import fastapi
from fastapi import routing
from starlette.routing import Match
from starlette.types import Scope

_lock = threading.Lock()
_counter = itertools.count(1)
_version = 0
MATCH_VERSION = "0.165.0"  # the FastAPI whose `_IncludedRouter._match` `_match_by_literals` repeats


def install() -> bool:
    """Patch `APIRouter` once; returns whether the patch is in place."""
    global _version
    router = routing.APIRouter
    if getattr(router, "_revorc_global_version", False):
        return True
    if not (callable(getattr(router, "_mark_routes_changed", None))
            and callable(getattr(router, "_get_routes_version", None))):
        return False
    original_mark = router._mark_routes_changed

    def mark_routes_changed(self) -> None:
        """FastAPI's own counter, and the process-wide one."""
        global _version
        original_mark(self)
        with _lock:
            _version = next(_counter)

    def get_routes_version(self, seen: set[int] | None = None) -> int:
        return _version

    router._mark_routes_changed = mark_routes_changed
    router._get_routes_version = get_routes_version
    router._revorc_global_version = True
    with _lock:  # caches filled before the patch (with subtree sums) must not match by coincidence
        _version = next(_counter)
    _install_prefix_check()
    return True


def _literal(path: str | None) -> str:
    """The text every path `path` matches starts with (up to its first parameter); "" when unknown."""
    return path.split("{", 1)[0] if path else ""


def literal_prefix(included) -> str:
    """What every route of an included router (and of the routers it includes) starts with; "" when some route
    has no path to go by. Kept per routes version (the candidates are rebuilt when it changes)."""
    version = _version
    cached = included.__dict__.get("_revorc_prefix")
    if cached is not None and cached[0] == version:
        return cached[1]
    literals = [literal for _, literal in _candidate_literals(included)]
    # character by character on purpose: "/api/v1/deals" and "/api/v1/deals/" share "/api/v1/deals", not a path
    # component "/api/v1" (commonpath would also drop the "/api/v1/" of "/api/v1/{x}")
    prefix = "" if not literals or "" in literals else os.path.commonprefix(literals)  # noqa: RUF071
    included.__dict__["_revorc_prefix"] = (version, prefix)
    return prefix


def _install_prefix_check() -> None:
    included = getattr(routing, "_IncludedRouter", None)
    if included is None or not callable(getattr(included, "effective_candidates", None)):
        return
    original_matches = included.matches

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefix = literal_prefix(self)
        if prefix and not routing.get_route_path(scope).startswith(prefix):
            return Match.NONE, {}
        return original_matches(self, scope)

    included.matches = matches
    if fastapi.__version__ == MATCH_VERSION:
        included._match = _match_by_literals


def _candidate_literals(included) -> list[tuple[object, str]]:
    """The router's candidates, each with the literal text its paths start with ("" when unknown)."""
    version = _version
    cached = included.__dict__.get("_revorc_literals")
    if cached is not None and cached[0] == version:
        return cached[1]
    pairs = []
    for candidate in included.effective_candidates():
        if isinstance(candidate, routing._IncludedRouter):
            literal = literal_prefix(candidate)
        elif isinstance(candidate.original_route, routing.APIRoute):
            literal = _literal(candidate.path)
        else:  # a Starlette route, a websocket route or a mount under the router's prefix; a host has no path
            literal = _literal(getattr(candidate.starlette_route, "path", None))
        pairs.append((candidate, literal))
    included.__dict__["_revorc_literals"] = (version, pairs)
    return pairs


def _match_by_literals(self, scope: Scope):
    """FastAPI 0.165's `_IncludedRouter._match`, each candidate first tested by its literal text."""
    path = routing.get_route_path(scope)
    partial = None
    for candidate, literal in _candidate_literals(self):
        if literal and not path.startswith(literal):
            continue
        if isinstance(candidate, routing._IncludedRouter):
            match, child_scope = candidate.matches(scope)
            route = candidate
            route_context = None
        elif isinstance(candidate.original_route, routing.APIRoute):
            route_context = candidate
            fastapi_scope = routing._get_fastapi_scope(scope)
            previous_context = fastapi_scope.get(routing._FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, routing._SCOPE_MISSING)
            fastapi_scope[routing._FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = route_context
            try:
                match, child_scope = candidate.original_route.matches(scope)
            finally:
                routing._restore_fastapi_scope_key(scope, routing._FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
                                                   previous_context)
            route = candidate.original_route
        else:
            route_context = candidate
            match, child_scope = candidate.matches(scope)
            route = candidate.starlette_route or candidate.original_route
        if match == Match.FULL:
            return match, child_scope, route, route_context
        if match == Match.PARTIAL and partial is None:
            partial = (child_scope, route, route_context)
    if partial is not None:
        child_scope, route, route_context = partial
        return Match.PARTIAL, child_scope, route, route_context
    return Match.NONE, {}, None, None
