"""Analytics fixtures: one chdb store per pytest process (chdb hosts one engine per process),
a database per test, the sink running in-process with its own ports."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import clickhouse_connect
import pytest

from libs.events.bus import KafkaSettings
from services.analytics.app import AnalyticsService
from services.analytics.settings import AnalyticsSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "chdb-store"  # the unit tests use the same path


@pytest.fixture
def analytics_settings(chdb_store: Path) -> AnalyticsSettings:
    return AnalyticsSettings(
        clickhouse_dsn=f"chdb://{chdb_store}", database=f"t_{uuid.uuid4().hex[:10]}",
        batch_rows=200, batch_wait_ms=300, health_host="127.0.0.1", health_port=free_port(),
        query_port=free_port(),
    )


@pytest.fixture
async def start_sink(
    analytics_settings: AnalyticsSettings, kafka_settings: KafkaSettings
) -> AsyncIterator[Callable[..., asyncio.Future]]:
    running: list[AnalyticsService] = []

    async def start(group_id: str | None = None) -> AnalyticsService:
        svc = AnalyticsService(analytics_settings, kafka_settings, group_id=group_id)
        await svc.start()
        running.append(svc)
        return svc

    yield start
    for svc in running:
        if svc._task is not None and not svc._task.done():
            await svc.stop()


def http_client(settings: AnalyticsSettings):
    return clickhouse_connect.get_client(host="127.0.0.1", port=settings.query_port, database=settings.database)


async def query(settings: AnalyticsSettings, sql: str) -> list[tuple]:
    def run() -> list[tuple]:
        client = http_client(settings)
        try:
            return client.query(sql).result_rows
        finally:
            client.close()

    return await asyncio.to_thread(run)


async def wait_for(settings: AnalyticsSettings, sql: str, expected, timeout: float = 90.0) -> None:
    last = None
    async with asyncio.timeout(timeout):
        while True:
            last = await query(settings, sql)
            if last == expected:
                return
            await asyncio.sleep(0.3)
