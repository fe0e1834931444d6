"""The event contract against the real broker: produce/consume, DLQ, topic configs."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from libs.events.admin import apply_topics, read_topic_configs
from libs.events.codec import decode, encode
from libs.events.consumer import Delivery, EventConsumer, Rejected
from libs.events.producer import EventProducer
from libs.events.transactions import MeterSampled
from tests.factories import all_sample_events, sample_event

pytestmark = pytest.mark.kafka


async def read_all(settings, topic: str, count: int, timeout: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def run_consumer_until(consumer: EventConsumer, done: asyncio.Event, timeout: float = 30.0) -> None:
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(timeout):
            await done.wait()
    finally:
        await consumer.stop()
        await task


async def test_every_event_type_produced_and_consumed_back_equal(kafka_settings):
    events = all_sample_events()
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many(events)
    got: dict = {}
    topics = sorted({e.TOPIC for e in events})
    for topic in topics:
        expected = [e for e in events if e.TOPIC == topic]
        records = await read_all(kafka_settings, kafka_settings.topics().name(topic), len(expected))
        for rec in records:
            event = decode(rec.value)
            assert rec.key.decode() == event.key()
            got[event.event_id] = event
    assert {e.event_id: e for e in events} == got


async def test_undecodable_and_unreadable_go_to_dlq_and_consumer_goes_on(kafka_settings):
    topics = kafka_settings.topics()
    good_before, good_after = sample_event(MeterSampled, phase="L1"), sample_event(MeterSampled, phase="L2")
    future = orjson.loads(encode(sample_event(MeterSampled, phase="L3")))
    future["schema_version"] = 99
    future_bytes = orjson.dumps(future)
    garbage = b"\x00\x01 not json at all"
    seen: list[Delivery] = []
    done = asyncio.Event()

    async def handler(batch: list[Delivery]) -> None:
        seen.extend(batch)
        if len(seen) >= 2:
            done.set()

    async with EventProducer(kafka_settings) as producer:
        name = topics.name("meter-values")
        await producer.send(good_before)
        await producer.send_raw(name, b"CS1", garbage)
        await producer.send_raw(name, b"CS1", future_bytes)
        await producer.send(good_after)
        consumer = EventConsumer(kafka_settings, service="analytics", topics=["meter-values"],
                                 handler=handler, producer=producer)
        await run_consumer_until(consumer, done)

    assert [d.event for d in seen] == [good_before, good_after]
    letters = await read_all(kafka_settings, topics.dlq("analytics"), 2)
    by_value = {rec.value: dict(rec.headers) for rec in letters}
    assert by_value[garbage]["dlq.reason"] == b"not_json"
    assert by_value[future_bytes]["dlq.reason"] == b"unsupported_schema_version"
    assert by_value[future_bytes]["dlq.topic"] == name.encode()
    assert b"99" in by_value[future_bytes]["dlq.error"]


async def test_rejected_by_handler_goes_to_dlq_and_offsets_commit(kafka_settings):
    events = [sample_event(MeterSampled, phase=p) for p in ("L1", "L2", "L3")]
    handled: list = []
    done = asyncio.Event()

    async def handler(batch: list[Delivery]) -> None:
        for d in batch:
            if d.event.payload.phase == "L2":
                raise Rejected(d, "impossible_data", "phase L2 not wired")
        handled.extend(d.event for d in batch)
        done.set()

    async with EventProducer(kafka_settings) as producer:
        await producer.send_many(events)
        consumer = EventConsumer(kafka_settings, service="billing", topics=["meter-values"],
                                 handler=handler, producer=producer)
        await run_consumer_until(consumer, done)
        letters = await read_all(kafka_settings, kafka_settings.topics().dlq("billing"), 1)
        assert dict(letters[0].headers)["dlq.reason"] == b"impossible_data"
        assert decode(letters[0].value) == events[1]
        assert handled == [events[0], events[2]]

        # committed: a new consumer of the same group sees nothing old
        again: list = []

        async def record(batch):
            again.extend(batch)

        late = sample_event(MeterSampled, phase="N")
        await producer.send(late)
        second_done = asyncio.Event()

        async def record_until_late(batch):
            await record(batch)
            if any(d.event == late for d in batch):
                second_done.set()

        consumer = EventConsumer(kafka_settings, service="billing", topics=["meter-values"],
                                 handler=record_until_late, producer=producer)
        await run_consumer_until(consumer, second_done)
        assert [d.event for d in again] == [late]


async def test_transient_handler_failure_is_retried_without_loss(kafka_settings):
    events = [sample_event(MeterSampled, phase=p) for p in ("L1", "L2")]
    attempts = 0
    handled: list = []
    done = asyncio.Event()

    async def flaky(batch: list[Delivery]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("clickhouse down")
        handled.extend(d.event for d in batch)
        if len(handled) >= 2:
            done.set()

    async with EventProducer(kafka_settings) as producer:
        await producer.send_many(events)
        consumer = EventConsumer(kafka_settings, service="analytics", topics=["meter-values"],
                                 handler=flaky, producer=producer, retry_backoff_s=0.1)
        await run_consumer_until(consumer, done)
    assert attempts >= 3
    assert sorted(e.payload.phase for e in handled) == ["L1", "L2"]


async def test_topic_configs_on_broker_match_registry_and_apply_is_idempotent(kafka_settings):
    wanted = kafka_settings.topics().all()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    await admin.start()
    try:
        configs = await read_topic_configs(admin, [n for n, _, _ in wanted])
        described = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics([n for n, _, _ in wanted])}
    finally:
        await admin.close()
    for name, partitions, cfg in wanted:
        assert described[name] == partitions, name
        for key, value in cfg.items():
            assert configs[name][key] == value, (name, key)
    station_keyed = {described[kafka_settings.topics().name(t)] for t in ("station-events", "meter-values", "transaction-events")}
    assert len(station_keyed) == 1
    changes = await apply_topics(kafka_settings)
    assert {c.action for c in changes} == {"unchanged"}
