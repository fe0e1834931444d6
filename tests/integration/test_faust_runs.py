"""faust-streaming (agent + table with changelog) runs against the real local broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).parents[2]


async def test_minimal_faust_agent_with_table_runs(kafka_bootstrap, topic_prefix, tmp_path):
    env = {**os.environ, "PROBE_BROKER": kafka_bootstrap, "PROBE_PREFIX": topic_prefix,
           "PROBE_DATA": str(tmp_path / "faust"), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "faust.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.faust_probe_app", "worker", "-l", "warn"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(f"{topic_prefix}probe-{n}", 2, 1) for n in ("in", "out")])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    consumer = AIOKafkaConsumer(f"{topic_prefix}probe-out", bootstrap_servers=kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await producer.start()
    await consumer.start()
    try:
        for i in range(1, 6):
            for station in ("CS1", "CS2"):
                await producer.send_and_wait(f"{topic_prefix}probe-in", key=station.encode(), value=str(i).encode())
        latest: dict[str, int] = {}
        async with asyncio.timeout(120):
            while latest != {"CS1": 15, "CS2": 15}:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for rec in batch:
                        latest[rec.key.decode()] = int(rec.value)
                assert worker.poll() is None, (tmp_path / "faust.log").read_text()[-3000:]
        # the table's changelog topic is on the broker
        assert any(t.endswith("totals-changelog") for t in await consumer.topics())
    finally:
        await producer.stop()
        await consumer.stop()
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
