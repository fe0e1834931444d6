"""EventProducer: keyed, idempotent, acks=all, batched. `send` returns once Kafka acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2

from libs.events.bus import KafkaSettings
from libs.events.codec import encode
from libs.events.envelope import Event
from libs.events.topics import Topics


class KeyHashPartitioner:
    """aiokafka's DefaultPartitioner (murmur2 of the key, like the Java client, so partitions
    match every other producer) with the hash kept per key: murmur2 is pure Python and keys
    (station ids) repeat on every event."""

    def __init__(self, max_keys: int = 50_000):
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return self._default(key, all_partitions, available)
        h = self._hashes.get(key)
        if h is None:
            h = murmur2(key) & 0x7FFFFFFF
            if len(self._hashes) < self._max_keys:
                self._hashes[key] = h
        return all_partitions[h % len(all_partitions)]


class EventProducer:
    def __init__(self, settings: KafkaSettings, *, client_id: str = "voltstream", linger_ms: int = 5):
        self.settings = settings
        self.topics: Topics = settings.topics()
        self._producer_kwargs = dict(
            **settings.client_kwargs(),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
        )
        # aiokafka clients bind to the running loop: created in start().
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._producer_kwargs, partitioner=KeyHashPartitioner())
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes pending batches

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(self, event: Event) -> Any:
        """Produce one event to its topic, keyed per the registry; waits for the ack."""
        return await (await self.enqueue(event))

    async def enqueue(self, event: Event) -> asyncio.Future:
        """Queue one event into the current batch; await the returned future for its ack."""
        return await self._producer.send(
            self.topics.name(event.TOPIC), value=encode(event), key=event.key().encode()
        )

    async def enqueue_raw(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future:
        """Queue an already encoded value (for callers that build the JSON themselves, e.g. the
        gateway's frame tap); await the returned future for its ack."""
        return await self._producer.send(topic, value=value, key=key)

    async def send_many(self, events: Iterable[Event]) -> list[Any]:
        """Produce several events in batches; returns once every one is acknowledged, in order."""
        futures = [await self.enqueue(e) for e in events]
        return list(await asyncio.gather(*futures))

    async def tombstone(self, topic_base: str, key: str) -> Any:
        """Remove a record from a compacted topic."""
        fut = await self._producer.send(self.topics.name(topic_base), value=None, key=key.encode())
        return await fut

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> Any:
        fut = await self._producer.send(topic, value=value, key=key, headers=headers)
        return await fut
