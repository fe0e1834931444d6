"""EventConsumer: decode, hand a batch to the service, commit only after the handler returned.

- Undecodable bytes, unknown types and unreadable schema versions go to `dlq.<service>` with the
  reason and the original bytes; the consumer goes on.
- A handler that raises `Rejected` for a delivery sends that delivery to the DLQ too.
- Any other exception is treated as transient (ClickHouse or Kafka down): nothing is committed,
  the batch is re-read after a backoff, so an outage pauses consumption without loss.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Histogram

from libs.events.bus import KafkaSettings
from libs.events.codec import DecodeError, decode
from libs.events.dlq import DeadLetter, DeadLetters
from libs.events.envelope import Event
from libs.events.producer import EventProducer

log = structlog.get_logger("consumer")

# Time from a record's broker timestamp to its batch being handled and committed: where a service
# stands behind its input, in seconds (the oldest record of each partition in a batch).
HANDLED_LAG = Histogram(
    "voltstream_consumer_handled_lag_seconds", "Record timestamp to handled, per batch and partition",
    ["service", "topic"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


@dataclass(frozen=True)
class Delivery:
    topic: str  # full topic name
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    event: Event | None  # None for a tombstone

    def dead(self, reason: str, error: str) -> DeadLetter:
        return DeadLetter(self.topic, self.partition, self.offset, self.key, self.value, reason, error)


class Rejected(Exception):
    """Raised by a handler for input it can never process (goes to the DLQ, not retried)."""

    def __init__(self, delivery: Delivery, reason: str, error: str = ""):
        super().__init__(f"{reason}: {error}")
        self.delivery = delivery
        self.reason = reason
        self.error = error


Handler = Callable[[list[Delivery]], Awaitable[None]]
# bytes -> event; raises DecodeError (its reason goes to the DLQ). A service may pass a faster
# decoder for its hot path; what it returns is handed to the handler as Delivery.event.
Decoder = Callable[[bytes], Any]


class EventConsumer:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        service: str,
        topics: list[str],
        handler: Handler,
        producer: EventProducer,
        group_id: str | None = None,
        max_records: int = 1000,
        poll_timeout_ms: int = 200,
        retry_backoff_s: float = 1.0,
        batch_records: int = 0,
        batch_wait_ms: int = 0,
        decoder: Decoder = decode,
        fetch_kwargs: dict[str, Any] | None = None,
    ):
        """batch_records / batch_wait_ms (optional, 0 = off): keep polling until the batch holds
        batch_records records or batch_wait_ms passed since its first record, then hand it over
        whole (a sink that inserts in large batches); max_records still bounds each poll.
        decoder: see Decoder (default: the codec's full decode). fetch_kwargs: extra aiokafka
        consumer options (fetch_max_bytes, max_partition_fetch_bytes, …) for high-volume readers."""
        self.settings = settings
        self.service = service
        self.handler = handler
        self.names = [settings.topics().name(t) for t in topics]
        self.dlq = DeadLetters(producer, service)
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.retry_backoff_s = retry_backoff_s
        self.batch_records = batch_records
        self.batch_wait_ms = batch_wait_ms
        self.decoder = decoder
        self._consumer_kwargs = dict(
            **settings.client_kwargs(),
            group_id=group_id or f"{settings.topic_prefix}{service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **(fetch_kwargs or {}),
        )
        # aiokafka clients bind to the running loop: created in start().
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(*self.names, **self._consumer_kwargs)
        await self._consumer.start()

    async def stop(self) -> None:
        self._stopping.set()

    def assignment(self) -> set[TopicPartition]:
        """Partitions assigned to this consumer (empty until the group join completed)."""
        return self._consumer.assignment() if self._consumer is not None else set()

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def run(self) -> None:
        """Consume until stop(); safe to cancel (nothing uncommitted is lost, only re-read)."""
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(
                    timeout_ms=self.poll_timeout_ms, max_records=self.max_records
                )
                if batches and self.batch_records:
                    batches = await self._fill(batches)
                if batches:
                    await self._process(batches)
        finally:
            await self.close()

    async def _fill(self, batches: dict[TopicPartition, list]) -> dict[TopicPartition, list]:
        """Poll more into the batch until batch_records or batch_wait_ms (see __init__)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_wait_ms / 1000
        count = sum(len(r) for r in batches.values())
        while count < self.batch_records and not self._stopping.is_set():
            remaining_ms = int((deadline - loop.time()) * 1000)
            if remaining_ms <= 0:
                break
            more = await self._consumer.getmany(
                timeout_ms=min(remaining_ms, self.poll_timeout_ms),
                max_records=min(self.max_records, self.batch_records - count),
            )
            for tp, records in more.items():
                batches.setdefault(tp, []).extend(records)
                count += len(records)
        return batches

    async def _process(self, batches: dict[TopicPartition, list]) -> None:
        deliveries: list[Delivery] = []
        for records in batches.values():
            for rec in records:
                event = None
                if rec.value is not None:
                    try:
                        event = self.decoder(rec.value)
                    except DecodeError as exc:
                        await self.dlq.send(
                            DeadLetter(rec.topic, rec.partition, rec.offset, rec.key, rec.value, exc.reason, exc.detail)
                        )
                        continue
                deliveries.append(Delivery(rec.topic, rec.partition, rec.offset, rec.key, rec.value, event))
        while True:
            try:
                if deliveries:
                    await self.handler(deliveries)
                break
            except Rejected as rej:
                await self.dlq.send(rej.delivery.dead(rej.reason, rej.error))
                deliveries = [d for d in deliveries if d is not rej.delivery]
                # the handler is idempotent (DESIGN.md), so re-running the rest is harmless
            except Exception as exc:  # transient: pause, re-read, never commit past it
                log.warning("handler_failed_retrying", service=self.service, error=repr(exc))
                for tp, records in batches.items():
                    self._consumer.seek(tp, records[0].offset)
                await asyncio.sleep(self.retry_backoff_s)
                return
        await self._consumer.commit(
            {tp: OffsetAndMetadata(records[-1].offset + 1, "") for tp, records in batches.items()}
        )
        now_ms = time.time() * 1000
        for tp, records in batches.items():
            topic = tp.topic.removeprefix(self.settings.topic_prefix)
            HANDLED_LAG.labels(self.service, topic).observe(max(0.0, now_ms - records[0].timestamp) / 1000)
