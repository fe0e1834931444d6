"""The sink killed (SIGKILL) mid-stream and restarted loses nothing and double-counts nothing.

Runs `python -m services.analytics` as a subprocess with its own store directory (chdb allows
one process per store) and reads through its query endpoint.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from libs.events.producer import EventProducer
from tests.integration.analytics import dataset
from tests.integration.analytics.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
STATIONS, SAMPLES = 20, 600  # 12,000 meter rows


def meter_stream():
    for s in range(STATIONS):
        for k in range(SAMPLES):
            yield dataset.meter(f"K{s:02d}", 1, dataset.at(0) + timedelta(minutes=k), 100.0 * k)


def start(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.analytics"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def scalar(client: httpx.AsyncClient, port: int, sql: str) -> str | None:
    try:
        r = await client.get(f"http://127.0.0.1:{port}/", params={"query": sql, "database": "voltstream"})
    except httpx.HTTPError:
        return None
    return r.text.strip() if r.status_code == 200 else None


async def test_killed_mid_batch_and_restarted_loses_nothing(kafka_settings, tmp_path):
    health, port = free_port(), free_port()
    env = {
        **os.environ,
        "VOLTSTREAM_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "VOLTSTREAM_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "VOLTSTREAM_KAFKA_STATION_PARTITIONS": "2",
        "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": "1",
        "VOLTSTREAM_ANALYTICS_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'store'}",
        "VOLTSTREAM_ANALYTICS_BATCH_ROWS": "1500",
        "VOLTSTREAM_ANALYTICS_BATCH_WAIT_MS": "200",
        "VOLTSTREAM_ANALYTICS_HEALTH_HOST": "127.0.0.1",
        "VOLTSTREAM_ANALYTICS_HEALTH_PORT": str(health),
        "VOLTSTREAM_ANALYTICS_QUERY_PORT": str(port),
    }
    log = tmp_path / "sink.log"
    events = list(meter_stream())
    total = len(events)
    proc = start(env, log)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            async with asyncio.timeout(60):  # ready: schema migrated, consuming
                while (await http.get(f"http://127.0.0.1:{health}/readyz")
                       if await scalar(http, port, "SELECT 1") else None) is None:
                    await asyncio.sleep(0.2)
            async with EventProducer(kafka_settings) as producer:
                await producer.send_many(events)
            async with asyncio.timeout(120):  # kill once some, not all, batches are in
                while True:
                    n = int(await scalar(http, port, "SELECT count() FROM meter_values") or 0)
                    if n > 0:
                        break
                    await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            assert n < total, "the sink finished before it could be killed; raise SAMPLES"

            proc = start(env, log)
            async with asyncio.timeout(150):
                while await scalar(http, port, "SELECT count() FROM meter_values FINAL") != str(total):
                    await asyncio.sleep(0.3)
            energy = await scalar(http, port, "SELECT sum(energy_wh), sum(samples) FROM energy_per_evse_hour")
            assert energy == f"{STATIONS * 100 * (SAMPLES - 1)}\t{total}"
            ids = await scalar(http, port, "SELECT uniqExact(event_id) FROM meter_values")
            assert ids == str(total)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        assert proc.returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
