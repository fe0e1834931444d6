"""The ClickHouse engine: clickhouse-connect clients for a server or the embedded chdb engine.

One code path for both: `chdb:///path` gives clickhouse-connect's chdb backend (the real
ClickHouse engine in-process), anything else an HTTP client. The chdb backend is synchronous
and one process hosts one engine, so every call runs on a dedicated worker thread, off the event
loop: a writer thread for the sink and a reader thread for analysts' queries, each with its own
client (handle) on the same engine. The reader's client is created with readonly=1, so the
engine itself refuses writes, DDL, settings changes and table functions that reach files, URLs
or other hosts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client

T = TypeVar("T")


class Engine:
    def __init__(self, dsn: str, database: str, *, query_max_execution_s: int = 60):
        self.dsn = dsn
        self.database = database
        self.query_max_execution_s = query_max_execution_s
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="ch-writer")
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="ch-reader")
        self._writer: Client | None = None
        self._reader: Client | None = None
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb:")

    # --- clients (created on their own thread's first use) ---------------------------------
    def writer(self) -> Client:
        with self._lock:
            if self._writer is None:
                self._writer = clickhouse_connect.get_client(dsn=self.dsn)
            return self._writer

    def reader(self) -> Client:
        with self._lock:
            if self._reader is None:
                self._reader = clickhouse_connect.get_client(
                    dsn=self.dsn,
                    database=self.database if self._database_exists() else None,
                    settings={"max_execution_time": self.query_max_execution_s, "readonly": 1},  # readonly last
                )
            return self._reader

    def _database_exists(self) -> bool:
        client = self._writer or clickhouse_connect.get_client(dsn=self.dsn)
        self._writer = client
        return bool(client.command(f"EXISTS DATABASE {self.database}"))

    # --- async API ----------------------------------------------------------------------------
    async def write(self, fn: Callable[[Client], T]) -> T:
        """Run fn(writer client) on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, lambda: fn(self.writer()))

    async def read(self, fn: Callable[[Client], T]) -> T:
        """Run fn(read-only client) on the reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, lambda: fn(self.reader()))

    def close(self) -> None:
        self._writer_pool.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)
        for client in (self._reader, self._writer):
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing on shutdown, nothing left to do
                    pass
        self._reader = self._writer = None


def raw(client: Client, sql: str, fmt: str | None = None, **kwargs: Any) -> bytes:
    return client.raw_query(sql, fmt=fmt, **kwargs)
