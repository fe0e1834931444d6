"""The API's read path: one round trip per query, plain SQL with named parameters.

Profiled per request, SQLAlchemy's aiosqlite adapter cost ~0.7 ms of CPU even for `SELECT 1`
(five thread hops: cursor, execute, fetch, close, reset) where a page query itself costs
0.02-0.3 ms. On SQLite the API therefore reads through its own read-only sqlite3 connections:
`quick` queries (a page: LIMIT ≤ the page cap over a narrow index, an object by id) run right on
the event loop, since even one thread hop costs ~0.4 ms of CPU (GIL hand-over, wake-ups), more
than the query; anything else (counts) runs on a worker thread. On PostgreSQL (native async
driver) it uses the engine. Both run the same SQL; the writer (read model, partners) stays on
the SQLAlchemy ORM.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class Reader:
    """Runs read-only SQL through the engine (PostgreSQL, or an in-memory SQLite)."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def rows(self, sql: str, params: dict[str, Any], *, quick: bool = False) -> list[tuple]:
        async with self.engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]

    def close(self) -> None:
        pass


class SqliteReader(Reader):
    """Read-only sqlite3 connections, one per thread (WAL: readers never wait for the writer)."""

    WORKERS = 2

    def __init__(self, engine: AsyncEngine, path: str):
        super().__init__(engine)
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._pool = ThreadPoolExecutor(self.WORKERS, thread_name_prefix="ocpi-read")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=1000")  # WAL readers are busy only around recovery
            self._local.conn = conn
            self._conns.append(conn)
        return conn

    def _run(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        return self._conn().execute(sql, {k: _sqlite_value(v) for k, v in params.items()}).fetchall()

    async def rows(self, sql: str, params: dict[str, Any], *, quick: bool = False) -> list[tuple]:
        if quick:
            return self._run(sql, params)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, sql, params)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for conn in self._conns:
            conn.close()


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy stores a SQLite DateTime as this text; comparisons are textual.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def make_reader(engine: AsyncEngine) -> Reader:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteReader(engine, url.database)
    return Reader(engine)
