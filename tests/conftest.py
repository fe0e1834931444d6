"""Test harness: one real local Kafka per run on free ports, an isolated topic prefix per test.

Set VOLTSTREAM_TEST_KAFKA_BOOTSTRAP=host:port to reuse a running broker while iterating.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import settings as hypothesis_settings

from libs.events.admin import apply_topics
from libs.events.bus import KafkaSettings

# CI runs the property tests on a fixed set of examples so a submission's result is reproducible;
# locally they explore new random examples every run (and keep failures in .hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("VOLTSTREAM_TEST_KAFKA_BOOTSTRAP")
    if existing:
        yield existing
        return
    from voltstream.kafka_local import LocalKafka

    broker = LocalKafka(
        home=tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port()
    )
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaSettings]:
    """Settings for one test: its own topic prefix, all topics created, deleted afterwards."""
    settings = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, station_partitions=2, other_partitions=1
    )
    await apply_topics(settings)
    yield settings
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(topic_prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
