"""The error envelope `{"success": false, "error": {code, message, details}}` for every error."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)


class AppError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None, headers=None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if code:
            self.code = code


class ValidationFailed(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"

    def __init__(self, entity: str, entity_id: Any = None) -> None:
        details = {"resource": entity, "id": str(entity_id)} if entity_id is not None else {"resource": entity}
        super().__init__(f"{entity} not found", details=details)


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMITED"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


# Postgres class 22 (data exception) states a client can cause, in words for `details.reason`.
_DATA_ERRORS = {
    "22003": "a number is out of range",
    "22001": "a text value is too long",
    "22021": "text contains a byte sequence that is not valid in UTF-8",
    "22P05": "text contains a character that cannot be stored (NUL or an unpaired surrogate)",
    "22P02": "a value has the wrong format",
    "22007": "a date or time has the wrong format",
    "22008": "a date or time is out of range",
    "22P03": "a binary value has the wrong format",
    "22012": "division by zero",
}


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "details": jsonable_encoder(details)}}


def error_response(code: str, message: str, status: int, details: Any = None, headers=None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def validation_details(errors: list[dict]) -> dict:
    """Seed shape `{field, value}` for the first error, plus every error in `errors`."""
    items = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "unstorable_text":  # a whole-body check names the offending path itself
            loc = (*loc, err["ctx"]["where"])
            err = {**err, "msg": err["msg"].split(": ", 1)[-1]}
        item = {"field": _field_path(loc), "message": err.get("msg", "invalid"), "type": err.get("type")}
        if "input" in err and not isinstance(err["input"], dict | list):
            item["value"] = err["input"]
        items.append(item)
    first = items[0] if items else {"field": None, "message": "invalid request"}
    return {"field": first["field"], "value": first.get("value"), "errors": items}


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path: Starlette's 405 names only the first route that matched it
    (`Allow: GET` where GET and POST are both served)."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in request.app.router.routes)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.code, exc.message, exc.status_code, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(list(exc.errors()))
        first = details["errors"][0] if details["errors"] else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return error_response("VALIDATION_ERROR", message, 422, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(code, message, exc.status_code, None, headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        diag = getattr(getattr(exc, "orig", None), "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if sqlstate == "23505":
            return error_response("CONFLICT", "a record with the same unique value already exists", 409,
                                  {"constraint": constraint})
        if sqlstate == "23503":
            return error_response("VALIDATION_ERROR", "a referenced record does not exist", 422,
                                  {"constraint": constraint})
        if sqlstate == "23514":
            return error_response("VALIDATION_ERROR", "a value is outside its allowed range", 422,
                                  {"constraint": constraint})
        logger.exception("integrity error")
        return error_response("CONFLICT", "the change conflicts with stored data", 409, {"constraint": constraint})

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # The safety net behind core/validation.py: a value Postgres refuses (out of range, NUL, too long,
        # bad encoding) is the client's input, never a server fault. The request's transaction rolls back.
        orig = getattr(exc, "orig", None)
        sqlstate = getattr(orig, "sqlstate", None)
        logger.warning("data error on %s %s: %s", request.method, request.url.path, orig)
        return error_response("VALIDATION_ERROR", "a value cannot be stored: it is out of range or malformed",
                              422, {"sqlstate": sqlstate, "reason": _DATA_ERRORS.get(sqlstate, "invalid value")})

    @app.exception_handler(OperationalError)
    @app.exception_handler(psycopg.OperationalError)  # the async pool of core/fast_read.py
    @app.exception_handler(PoolTimeout)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        logger.error("database unavailable: %s", exc)
        return error_response("SERVICE_UNAVAILABLE", "the database is not reachable", 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response("INTERNAL_ERROR", "an unexpected error occurred", 500)
