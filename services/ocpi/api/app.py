"""The FastAPI application: routers per module, OCPI error handling, request ids, ops routes."""

from __future__ import annotations

import time
import uuid

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.ocpi.status import OcpiStatus
from services.ocpi.api import cdrs, commands, credentials, locations, sessions, tariffs, tokens, versions
from services.ocpi.api.common import OcpiError, ocpi_response
from services.ocpi.api.listing import TotalCounts
from services.ocpi.api.reader import make_reader

log = structlog.get_logger("ocpi.api")


class OcpiHeaders:
    """Pure ASGI middleware: X-Request-ID / X-Correlation-ID echoed (made up when missing), the
    OCPI-from/to of the request swapped into the response (transport_and_format.asciidoc,
    "Direct response": TO = requesting party, FROM = receiving party), trailing slashes accepted,
    per-module metrics."""

    def __init__(self, app, metrics, settings):
        self.app = app
        self.metrics = metrics
        self.settings = settings
        self._ours = [(b"ocpi-from-country-code", settings.country_code.encode()),
                      (b"ocpi-from-party-id", settings.party_id.encode())]
        self._series: dict[tuple[str, int], tuple] = {}  # labels() takes a lock: look each series up once

    def _observe(self, module: str, status: int, seconds: float) -> None:
        series = self._series.get((module, status))
        if series is None:
            if len(self._series) > 1000:  # module names come from request paths: bounded
                self._series.clear()
            series = (self.metrics.requests.labels(module, str(status)), self.metrics.latency.labels(module))
            self._series[(module, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/"), raw_path=path.rstrip("/").encode())
        headers = {k.lower(): v for k, v in scope["headers"]}
        extra = [
            (b"x-request-id", headers.get(b"x-request-id") or str(uuid.uuid4()).encode()),
            (b"x-correlation-id", headers.get(b"x-correlation-id") or str(uuid.uuid4()).encode()),
        ]
        if b"ocpi-from-country-code" in headers:
            extra += [(b"ocpi-to-country-code", headers[b"ocpi-from-country-code"]),
                      (b"ocpi-to-party-id", headers.get(b"ocpi-from-party-id", b""))]
            extra += self._ours
        parts = scope["path"].split("/")
        module = parts[4] if len(parts) > 4 and parts[2] == "cpo" else (parts[3] if len(parts) > 3 else parts[-1])
        started = time.perf_counter()
        status_holder = {}

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._observe(module, status_holder.get("status", 500), time.perf_counter() - started)


def create_app(*, settings, sessionmaker, client, metrics, ready=lambda: True) -> FastAPI:
    app = FastAPI(
        title="voltstream OCPI 2.2.1 CPO",
        version="2.2.1",
        description="OCPI 2.2.1 CPO interface: versions, credentials, locations, sessions, cdrs, tariffs.",
    )
    app.state.settings = settings
    app.state.sessionmaker = sessionmaker
    app.state.reader = make_reader(sessionmaker.kw["bind"])
    app.state.total_counts = TotalCounts()
    app.state.client = client
    app.state.metrics = metrics
    app.state.log = log
    app.state.token_cache = {}
    for module in (versions, credentials, locations, sessions, cdrs, tariffs, tokens, commands):
        app.include_router(module.router)

    @app.exception_handler(OcpiError)
    async def _ocpi_error(_: Request, exc: OcpiError):
        return ocpi_response(status_code=exc.status_code, message=exc.message, http_status=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return ocpi_response(status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS, message=errs, http_status=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return ocpi_response(status_code=OcpiStatus.CLIENT_ERROR, message=str(exc.detail),
                             http_status=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # never expected; still an OCPI envelope
        log.error("unhandled_error", path=request.url.path, error=repr(exc))
        return ocpi_response(status_code=OcpiStatus.SERVER_ERROR, message="internal error", http_status=500)

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        ok = bool(ready())
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route():
        pusher = getattr(app.state, "pusher", None)
        if pusher is not None:
            await pusher.refresh_metrics()
        # the app's own registry (one per app, so tests can run several) plus the process-wide one
        # the shared libs report to (consumer lag, dead letters, process figures)
        body = generate_latest(metrics.registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(OcpiHeaders, metrics=metrics, settings=settings)
    return app
