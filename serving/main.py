"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
import uuid
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import text
from threadpoolctl import threadpool_limits

from serving.api import api_router, segment_router
from serving.api_keys import usage
from serving.auth.principals import authenticate_request, plan_authentication
from serving.core import fast_read, route_versions
from serving.core.config import Settings, get_settings
from serving.core.db import session_factory
from serving.core.errors import error_response, install_error_handlers
from serving.core.ratelimit import RateLimitMiddleware
from serving.core.schemas import ERROR_RESPONSES
from serving.core.validation import StorableParamsMiddleware, storable_params
from serving.emails import tracking
from serving.notifications.realtime import Hub
from serving.notifications.router import ws_router as notifications_ws_router
from serving.scoring import prediction_log

logger = logging.getLogger(__name__)

DESCRIPTION = """Revenue orchestration API: CRM (prospects, accounts, deals, activities, calls),
API keys and authentication.

Authenticate with `Authorization: Bearer <JWT from /api/v1/auth/login>` or `X-API-Key: sk_live_…`.
Errors use `{"success": false, "error": {"code", "message", "details"}}`; lists use
`{"data": [...], "pagination": {"page", "limit", "total", "pages"}}`.
"""


def _tracking_link_verifier(secret: bytes):
    """The rate limiter's check that a tracking link is genuine (HMAC only, no database)."""

    def verifies(token: str, kind: str) -> bool:
        try:
            tracking.verify(token, secret, kind=kind)
        except tracking.InvalidToken:
            return False
        return True

    return verifies


class RequestIdMiddleware:
    """X-Request-ID in and out. Plain ASGI: Starlette's `@app.middleware("http")` wraps every request in a
    second task and streams the body through memory queues, which cost more than the rest of a CRM read."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        rid = given.decode("latin-1")[:128] if given else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    route_versions.install()  # FastAPI's nested routers: one routes version, not a subtree walk per request
    # The API predicts a row at a time from a thread pool: OpenMP threads inside each prediction only
    # contend with each other (real-time gradient-boosting scores are ~2.5x slower under load with them).
    threadpool_limits(limits=1, user_api="openmp")
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await fast_read.start(app)
        # Every API process listens for notification wake-ups and serves its own sockets (notifications/realtime.py)
        await app.state.notifications_hub.start()
        # The ~450k objects of the imported platform (pandas, sklearn, SQLAlchemy, Dagster's models…) live as long
        # as the process: frozen, the collector no longer walks them, and a full collection stops being a pause
        # of hundreds of ms in the middle of requests (the long tail of p99 under load). Documented in `gc.freeze`.
        gc.collect()
        gc.freeze()
        yield
        await app.state.notifications_hub.stop()
        await fast_read.stop(app)
        try:  # real-time predictions still queued are written before the process stops
            prediction_log.log_for(settings).flush()
        except Exception as exc:  # the database left first: nothing else to do with them
            logger.warning("real-time predictions not logged at shutdown: %s", exc)
        try:  # API-key counts still in memory are written before the process stops
            usage.counter(settings).flush()
        except Exception as exc:  # the database left first: nothing else to do with them
            logger.warning("API-key usage counts lost at shutdown: %s", exc)

    app = FastAPI(
        lifespan=lifespan,
        title="AIRevenueOrc API",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    # No ping per checkout for the API's pool (a round trip on every request): a connection dropped by a
    # database restart fails one request, and SQLAlchemy then invalidates the whole pool; `readyz` reconnects.
    app.state.session_factory = session_factory(settings.api_database_url, settings.db_pool_size, "api",
                                                plan_limits=settings.plan_limits_enabled)
    # Composition: core.deps asks this to resolve credentials (core cannot import the users table).
    app.state.authenticator = authenticate_request
    app.state.plan_authentication = plan_authentication
    app.state.notifications_hub = Hub(database_url=settings.api_database_url, factory=app.state.session_factory)

    install_error_handlers(app)
    # query and path parameters Postgres cannot store (NUL, lone surrogates): refused before routing
    app.add_middleware(StorableParamsMiddleware)
    app.add_middleware(RateLimitMiddleware, settings=settings,
                       link_verifier=_tracking_link_verifier(settings.tracking_secret))
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-ID"],
        )

    app.add_middleware(RequestIdMiddleware)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process is up")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database answers")
    def readyz():
        try:
            with app.state.session_factory() as session:
                session.execute(text("select 1"))
        except Exception as exc:  # any failure means "not ready"
            logger.warning("readiness check failed: %s", exc)
            return error_response("SERVICE_UNAVAILABLE", "database not reachable", 503, {"check": "database"})
        return {"status": "ready", "checks": {"database": "ok"}}

    app.include_router(api_router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(segment_router, responses=ERROR_RESPONSES)
    # The notifications socket at the host root (`wss://…/ws`, as the seed shows)
    app.include_router(notifications_ws_router, dependencies=[Depends(storable_params)])
    return app
