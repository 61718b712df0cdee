"""What every request value must be before it reaches Postgres, checked once at the edge.

Postgres `text` and `jsonb` cannot hold NUL (U+0000) and UTF-8 cannot encode an unpaired surrogate (JSON lets a
client send both as `\\u0000` / `\\ud800`), `integer` columns stop at 2^31 - 1, and a float can overflow to
infinity. Request bodies get the text check from `InputModel`, query and path parameters from
`StorableParamsMiddleware` (HTTP) and `storable_params` (a dependency, for WebSocket routes); numbers get bounded
types. Anything that still slips through is a database data error, which `errors.py` answers with a 422 instead
of a 500.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

import idna
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.core.errors import ValidationFailed, error_response

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# The largest magnitude any float input is allowed: far beyond any real count or amount, and small enough
# that sums and products of a few of them stay finite (1e308 * 10 is inf).
FLOAT_MAX = 1e15

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = ("text must not contain NUL (U+0000) or unpaired surrogate (U+D800–U+DFFF) characters, "
                      "and numbers must be finite")


def unstorable_path(value: Any, path: tuple = ()) -> tuple | None:
    """The location of the first string (or key, or non-finite float) in `value` Postgres cannot store, or None.

    A surrogate left in a Python string after JSON decoding is always unpaired: a valid pair is decoded into
    one astral character.
    """
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, float):  # JSON has no infinity: `1e400` decodes to one, and jsonb refuses it
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return (*path, key)
            found = unstorable_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unstorable_path(item, (*path, index))
            if found is not None:
                return found
    return None


def reject_unstorable(value: Any) -> Any:
    """A `mode="before"` model validator: refuse input holding text Postgres cannot store."""
    found = unstorable_path(value)
    if found is not None:
        where = ".".join(str(part) for part in found) or "value"
        raise PydanticCustomError("unstorable_text", "{where}: " + UNSTORABLE_MESSAGE, {"where": where})
    return value


def _unstorable_field(items) -> str | None:
    for name, value in items:
        if _UNSTORABLE.search(name) or (isinstance(value, str) and _UNSTORABLE.search(value)):
            return name
    return None


def _refusal(name: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {UNSTORABLE_MESSAGE}",
                            details={"field": name, "errors": [{"field": name, "type": "unstorable_text",
                                                                "message": UNSTORABLE_MESSAGE}]})


async def storable_params(request: HTTPConnection) -> None:
    """Query and path parameters obey the same rule as bodies, whatever their type: the WebSocket routes'
    dependency (HTTP requests are checked by `StorableParamsMiddleware`, before routing)."""
    name = _unstorable_field([*request.query_params.multi_items(), *request.path_params.items()])
    if name is not None:
        raise _refusal(name)


def _path_parameter(app, path: str) -> str:
    """The name of the path parameter holding what cannot be stored, found by matching the path against every
    route's pattern (only for a refused path: routing has not run yet); "path" when no route's does."""
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)  # an included router's routes, flattened
        for each in (contexts() if contexts else [route]):
            pattern = getattr(each, "path_regex", None) or getattr(getattr(each, "starlette_route", None),
                                                                  "path_regex", None)
            found = pattern.match(path) if pattern is not None else None
            if found:
                name = _unstorable_field(found.groupdict().items())
                if name is not None:
                    return name
    return "path"


class StorableParamsMiddleware:
    """Every HTTP request's query and path parameters are checked before routing: text Postgres cannot store is
    a 422 VALIDATION_ERROR naming the parameter. Plain ASGI, and the query is decoded only when it holds an
    escape (or a raw NUL): as an app-wide dependency the check cost every request FastAPI's dependency solving
    (profiled: about 3 % of a CRM read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = None
            query: bytes = scope.get("query_string", b"")
            if b"%" in query or b"\x00" in query:
                name = _unstorable_field(QueryParams(query).multi_items())
            path = scope.get("path", "")
            if name is None and _UNSTORABLE.search(path):
                name = _path_parameter(scope["app"], path)  # the app, set by Starlette before its middleware
            if name is not None:
                refusal = _refusal(name)
                response = error_response(refusal.code, refusal.message, refusal.status_code, refusal.details)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _hostname(value: str) -> str:
    """A DNS host name by IDNA 2008 / RFC 1035 rules (letters, digits, hyphens; labels ≤ 63, name ≤ 253),
    returned in its ASCII (A-label) form."""
    try:
        return idna.encode(value.strip().rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"not a valid domain name: {exc}") from None


MAX_MONEY = Decimal("9999999999999999.99")  # numeric(18, 2), the amount columns

Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
BoundedFloat = Annotated[float, Field(ge=-FLOAT_MAX, le=FLOAT_MAX, allow_inf_nan=False)]
MoneyIn = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, max_digits=18, decimal_places=2, allow_inf_nan=False)]
Hostname = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_hostname)]
