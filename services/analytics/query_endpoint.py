"""Read-only ClickHouse-HTTP-compatible endpoint for the embedded engine.

No other process can open a chdb store, so analysts reach it through this endpoint: `curl
'http://127.0.0.1:8124/?query=SELECT 1'`, clickhouse-connect and BI tools that speak ClickHouse
HTTP work unchanged. The query runs on the engine's read-only client (readonly=1): the engine
itself refuses INSERT, DDL, settings changes and table functions that reach files, URLs or other
hosts; nothing here parses SQL to decide what is allowed.

Protocol subset: GET/POST `/` with `query` (URL) and/or the body, `database`, `default_format`,
`param_<name>` query parameters, other URL parameters as settings (refused by the engine when
read-only forbids them); `/ping`. Errors carry `X-ClickHouse-Exception-Code` as ClickHouse does.
"""

from __future__ import annotations

import re
import time
import uuid

import orjson
import structlog
from aiohttp import web

# the exact inverse of clickhouse-connect's request compression (lz4, zstd, gzip, deflate, br)
from clickhouse_connect.driver._backend.httpcommon import decompress_response
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError
from prometheus_client import Counter

from services.analytics.engine import Engine

log = structlog.get_logger("analytics.query")

QUERIES = Counter("voltstream_analytics_queries_total", "Queries served by the read-only endpoint", ["outcome"])

# URL parameters that belong to the HTTP transport, not to the engine's settings.
_TRANSPORT = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
    "compress", "decompress", "enable_http_compression", "wait_end_of_query", "buffer_size",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "client_protocol_version",
    "user", "password", "quota_key", "role", "add_http_cors_header",
}
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CONTENT_TYPES = {
    "JSON": "application/json; charset=UTF-8", "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8", "CSV": "text/csv; charset=UTF-8",
    "CSVWithNames": "text/csv; charset=UTF-8",
}
_CODE = re.compile(r"Code: (\d+)")


class QueryEndpoint:
    def __init__(self, engine: Engine, host: str, port: int):
        self.engine, self.host, self.port = engine, host, port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/ping", self._ping)
        app.router.add_get("/replicas_status", self._ping)
        app.router.add_route("GET", "/", self._query)
        app.router.add_route("POST", "/", self._query)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("query_endpoint_listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _ping(self, _: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def _query(self, request: web.Request) -> web.Response:
        params = request.query
        sql = params.get("query", "")
        body = await request.read() if request.method == "POST" else b""
        if body:
            encoding = request.headers.get("Content-Encoding")
            if encoding:
                try:
                    body = decompress_response(body, encoding)
                except Exception as exc:  # noqa: BLE001 - a bad body is the client's error
                    return _error(400, 271, f"Cannot decompress the request body: {exc}")
            if _is_text(body):
                sql = f"{sql}\n{body.decode()}" if sql else body.decode()
            elif not sql:
                # `INSERT … FORMAT x` followed by binary data: the statement is what the engine judges
                sql = body.split(b"\n", 1)[0].decode(errors="replace")
        sql = sql.strip()
        if not sql:
            return _error(400, 62, "Empty query")
        query_id = params.get("query_id") or str(uuid.uuid4())
        settings = {k: v for k, v in params.items() if k not in _TRANSPORT and not k.startswith("param_")}
        parameters = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        explicit = _TRAILING_FORMAT.search(sql)
        fmt = explicit.group(1) if explicit else params.get("default_format", "TabSeparated")
        database = params.get("database") or request.headers.get("X-ClickHouse-Database")
        started = time.perf_counter()
        try:
            data = await self.engine.read(lambda c: _run(c, sql, None if explicit else fmt, settings, parameters, database))
        except ClickHouseError as exc:
            QUERIES.labels("error").inc()
            message = str(exc)
            code = getattr(exc, "code", None) or _code(message)
            log.info("query_refused", code=code, error=message[:300])
            return _error(500 if isinstance(exc, DatabaseError) else 400, code, message)
        QUERIES.labels("ok").inc()
        elapsed = time.perf_counter() - started
        summary = {"read_rows": "0", "read_bytes": "0", "written_rows": "0", "written_bytes": "0",
                   "result_rows": "0", "elapsed_ns": str(int(elapsed * 1e9))}
        return web.Response(body=data, headers={
            "Content-Type": _CONTENT_TYPES.get(fmt, "text/plain; charset=UTF-8" if fmt != "Native"
                                               else "application/octet-stream"),
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": "voltstream-analytics",
            "X-ClickHouse-Summary": orjson.dumps(summary).decode(),
        })


def _run(client, sql: str, fmt: str | None, settings: dict, parameters: dict, database: str | None) -> bytes:
    if database and database != client.database:
        client.database = database  # USE on the read-only handle; readonly=1 allows it
    return client.raw_query(sql, parameters=parameters or None, settings=settings or None, fmt=fmt)


def _is_text(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _code(message: str) -> int:
    match = _CODE.search(message)
    return int(match.group(1)) if match else 1002


def _error(status: int, code: int, message: str) -> web.Response:
    return web.Response(
        status=status, text=message if message.endswith("\n") else message + "\n",
        headers={"X-ClickHouse-Exception-Code": str(code), "Content-Type": "text/plain; charset=UTF-8"},
    )
