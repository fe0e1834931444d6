"""A small HTTP server for /healthz, /readyz and /metrics (Prometheus) for non-HTTP services."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

ReadyCheck = Callable[[], bool]


class HealthServer:
    """/healthz: the process runs. /readyz: every check passes (e.g. reference topics caught up)."""

    def __init__(self, host: str, port: int, checks: dict[str, ReadyCheck] | None = None):
        self.host, self.port = host, port
        self.checks: dict[str, ReadyCheck] = dict(checks or {})
        self._runner: web.AppRunner | None = None

    def add_check(self, name: str, check: ReadyCheck) -> None:
        self.checks[name] = check

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _: web.Request) -> web.Response:
        results = {name: bool(check()) for name, check in self.checks.items()}
        ok = all(results.values())
        return web.json_response({"ready": ok, "checks": results}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
