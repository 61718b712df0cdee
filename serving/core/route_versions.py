"""One process-wide routes version for FastAPI's nested routers (a workaround of FastAPI 0.165's router matching).

FastAPI 0.165 resolves an included router's routes lazily and caches them under a "routes version": on every
request, at every nesting level, `APIRouter._get_routes_version()` walks the whole subtree of included routers to
sum their change counters, only to find that nothing changed. With ~40 routers under `/api/v1` that walk was 13 %
of the API's CPU under load (py-spy, `bench_api`, docs/performance.md).

Here every router's changes (`_mark_routes_changed`, which FastAPI calls on every route or router added) bump one
process-wide counter, and a router's version is that counter: any change anywhere invalidates every cache, which
is at least as conservative as the subtree sum (the caches only compare versions for equality), and reading it
costs nothing. If a later FastAPI no longer has these methods, nothing is patched and routing works as shipped.
"""

from __future__ import annotations

import itertools
import threading

from fastapi import routing

_lock = threading.Lock()
_counter = itertools.count(1)
_version = 0


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
    return True
