"""Gateway test harness: the demo catalog published to an isolated topic prefix, a real gateway
in-process on a free port, real `ocpp` charge points over real WebSockets, and a reader that
collects what reached Kafka."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.catalog.index import CatalogIndex
from libs.catalog.loader import load_catalog, parse_catalog
from libs.catalog.publish import CatalogPublisher
from libs.events.codec import decode
from libs.events.producer import EventProducer
from services.gateway.app import GatewayApp
from services.gateway.settings import GatewaySettings

EXAMPLE = Path(__file__).parents[3] / "examples" / "catalog.yaml"
KEYS = {
    "BER-AC-001": "demo-ber-ac-001-key-0123456789",
    "BER-AC-002": "demo-ber-ac-002-key-0123456789",
    "MUC-DC-001": "demo-muc-dc-001-key-0123456789",
    "MUC-DC-002": "demo-muc-dc-002-key-0123456789",
}
V16_STATION, V201_STATION = "BER-AC-001", "BER-AC-002"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def publish_catalog(settings, extra_stations: list[dict] | None = None) -> None:
    """The demo catalog, plus `extra_stations` (station credential entries) when given."""
    if extra_stations:
        raw = yaml.safe_load(EXAMPLE.read_text())
        raw["stations"] = [*raw["stations"], *extra_stations]
        catalog = parse_catalog(raw)
    else:
        catalog = load_catalog(EXAMPLE)
    index = CatalogIndex()
    await index.follow(settings)
    try:
        await index.wait_caught_up(30)
        async with EventProducer(settings, client_id="test-catalog") as producer:
            await CatalogPublisher(producer, index).apply(catalog)
    finally:
        await index.stop()


def gateway_settings(tmp_path: Path, **overrides) -> GatewaySettings:
    base = dict(host="127.0.0.1", port=0, spool_dir=tmp_path / "spool", instance_id=f"gw-{uuid.uuid4().hex[:8]}",
                ping_interval=None, ping_timeout=None)
    return GatewaySettings(**{**base, **overrides})


@pytest.fixture
async def catalog(kafka_settings):
    await publish_catalog(kafka_settings)
    return kafka_settings


@pytest.fixture
async def gateway(catalog, tmp_path) -> AsyncIterator[GatewayApp]:
    app = GatewayApp(gateway_settings(tmp_path), catalog, health=False)
    await app.start()
    try:
        yield app
    finally:
        app.settings.drain_seconds = 0
        await app.stop()


def url(app: GatewayApp, station_id: str) -> str:
    return f"ws://127.0.0.1:{app.server.port}/ocpp/{station_id}"


async def read_topics(settings, bases: list[str], until=None, timeout: float = 20.0) -> list:
    """Every event on the topics from the beginning; with `until(events)`, poll until it holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = []
        for b in bases:
            name = settings.topics().name(b)
            tps += [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or
                                                            await _parts(consumer, name))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        events: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                events += [decode(r.value) for r in records if r.value is not None]
            if until is None:
                if not batches:
                    return events
            elif until(events) or loop.time() > deadline:
                return events
    finally:
        await consumer.stop()


async def _parts(consumer, name):
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name)
