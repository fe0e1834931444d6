"""Durable event delivery (DESIGN.md "Rules every service keeps").

`EventSink.publish(events)` returns only when the events (and KeyedRecords of the gateway's own
compacted views) are acknowledged by Kafka, or appended to
the fsync'd local spool when Kafka does not acknowledge within `ack_timeout`. While the spool
holds anything, new events go behind it (order per station is kept), and a replay task sends the
spool to Kafka in order once it answers again. A full spool raises SpoolFull: the caller answers
CALLERROR and the metric/log alert.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from libs.events.bus import KafkaSettings
from libs.events.codec import encode
from libs.events.envelope import Event
from libs.events.producer import EventProducer
from services.gateway import metrics
from services.gateway.spool import Item, KeyedRecord, Spool, SpoolFull

log = structlog.get_logger("gateway.sink")

__all__ = ["EventSink", "KeyedRecord", "SpoolFull"]


class EventSink:
    def __init__(self, settings: KafkaSettings, spool: Spool, *, ack_timeout: float = 3.0,
                 retry_interval: float = 1.0, client_id: str = "voltstream-gateway"):
        self.settings = settings
        self.spool = spool
        self.ack_timeout = ack_timeout
        self.retry_interval = retry_interval
        self.client_id = client_id
        self.producer: EventProducer | None = None
        self._replay_task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await self._new_producer()
        self._replay_task = asyncio.create_task(self._replay_loop(), name="spool-replay")
        self._update_metrics()
        if not self.spool.empty():
            log.warning("spool_pending_at_start", events=self.spool.pending_events)
            self._wake.set()

    async def _new_producer(self) -> None:
        producer = EventProducer(self.settings, client_id=self.client_id)
        try:
            await asyncio.wait_for(producer.start(), self.ack_timeout * 3)
        except Exception:  # noqa: BLE001 - Kafka down at start: spool until it is back
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 2)
            self.producer = None
            log.warning("kafka_unavailable_at_start")
            return
        self.producer = producer

    @property
    def kafka_available(self) -> bool:
        return self.producer is not None and self.spool.empty()

    async def publish(self, events: Sequence[Item]) -> None:
        if not events:
            return
        for e in events:
            if isinstance(e, Event):
                metrics.EVENTS_BY(e.TYPE).inc()
        if self.kafka_available:
            try:
                # asyncio.timeout rather than wait_for: no extra Task per CALL (same cancellation)
                async with asyncio.timeout(self.ack_timeout):
                    await self._send(self.producer, events)
                return
            except Exception as exc:  # noqa: BLE001 - timeout or Kafka error: fall back to the spool
                log.warning("kafka_ack_failed_spooling", error=repr(exc)[:200], events=len(events))
        try:
            await self.spool.append(events)
            metrics.EVENTS_SPOOLED.inc(len(events))
        except SpoolFull:
            metrics.SPOOL_FULL.inc()
            log.error("spool_full_alert", pending_events=self.spool.pending_events,
                      pending_bytes=self.spool.pending_bytes)
            raise
        finally:
            self._update_metrics()
        self._wake.set()

    async def _replay_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self.spool.empty():
                if not await self._replay_batch():
                    await asyncio.sleep(self.retry_interval)
            self._update_metrics()

    async def _replay_batch(self) -> bool:
        if self.producer is None:
            await self._new_producer()
            if self.producer is None:
                return False
        events, position = await self.spool.peek()
        if not events:
            return True
        try:
            await asyncio.wait_for(self._send(self.producer, events), max(self.ack_timeout, 10))
        except Exception as exc:  # noqa: BLE001
            log.info("spool_replay_waiting", error=repr(exc)[:200], pending=self.spool.pending_events)
            # A producer that has been failing may hold stale connections / sequence state:
            # start a fresh one (replayed duplicates are harmless, ids are deterministic).
            old, self.producer = self.producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.stop(), 2)
            return False
        await self.spool.commit(position, len(events))
        self._update_metrics()
        if self.spool.empty():
            log.info("spool_replayed")
        return True

    @staticmethod
    async def _send(producer: EventProducer, items: Sequence[Item]) -> None:
        """Like producer.send_many, with KeyedRecords sent to their view's topic under their key."""
        futures = []
        for item in items:
            if isinstance(item, KeyedRecord):
                value = encode(item.event) if item.event is not None else None
                futures.append(await producer.enqueue_raw(producer.topics.name(item.topic), item.key.encode(), value))
            else:
                futures.append(await producer.enqueue(item))
        await asyncio.gather(*futures)

    def _update_metrics(self) -> None:
        metrics.SPOOL_EVENTS.set(self.spool.pending_events)
        metrics.SPOOL_BYTES.set(self.spool.pending_bytes)
        metrics.KAFKA_AVAILABLE.set(1 if self.kafka_available else 0)

    async def drain(self, timeout: float) -> None:
        """Give the replay a last chance before shutdown (what remains is replayed at restart)."""
        if not self.spool.empty():
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    while not self.spool.empty():  # noqa: ASYNC110 - the spool is a file, not an event
                        await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._replay_task:
            self._replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay_task
        if self.producer:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), 10)
