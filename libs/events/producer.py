"""EventProducer: keyed, idempotent, acks=all, batched. `send` returns once Kafka acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from libs.events.bus import KafkaSettings
from libs.events.codec import encode
from libs.events.envelope import Event
from libs.events.topics import Topics


class EventProducer:
    def __init__(self, settings: KafkaSettings, *, client_id: str = "voltstream", linger_ms: int = 5):
        self.settings = settings
        self.topics: Topics = settings.topics()
        self._producer = AIOKafkaProducer(
            **settings.client_kwargs(),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
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
