"""TopicFollower: read whole topics without a consumer group, and say when caught up.

Used for compacted reference topics (read from the beginning, every replica its own full copy),
for `commands` (read from the end: a restarted gateway never replays old commands), and from a
point in time (`since`: the OCPI adapter looking for command results it still owes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.events.bus import KafkaSettings
from libs.events.codec import DecodeError, decode
from libs.events.envelope import Event

log = structlog.get_logger("follower")

# (topic base name, key, event or None for a tombstone)
OnRecord = Callable[[str, str, Event | None], None]
OnUndecodable = Callable[[str, int, int, bytes | None, bytes | None, DecodeError], None]


class TopicFollower:
    def __init__(
        self,
        settings: KafkaSettings,
        topics: list[str],
        on_record: OnRecord,
        *,
        from_end: bool = False,
        since: datetime | None = None,
        on_undecodable: OnUndecodable | None = None,
    ):
        """since: start at the first record with a timestamp at or after it (naive = UTC); caught
        up once at the end the topics had at start. Excludes from_end."""
        self.settings = settings
        self.registry = settings.topics()
        self.bases = {self.registry.name(t): t for t in topics}
        self.on_record = on_record
        self.on_undecodable = on_undecodable
        self.from_end = from_end
        self.since = since
        self.caught_up = asyncio.Event()
        # aiokafka clients bind to the running loop: created in start(), so a follower can be
        # constructed anywhere (e.g. in a service's __init__ before asyncio.run).
        self._consumer: AIOKafkaConsumer | None = None
        self._end: dict[TopicPartition, int] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **self.settings.client_kwargs(), group_id=None, enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await self._consumer.start()
        partitions: list[TopicPartition] = []
        for name in self.bases:
            parts = await self._partitions_for(name)
            partitions += [TopicPartition(name, p) for p in sorted(parts)]
        self._consumer.assign(partitions)
        if self.since is not None:
            await self._seek_to_time(partitions)
        elif self.from_end:
            await self._consumer.seek_to_end(*partitions)
            for tp in partitions:
                await self._consumer.position(tp)  # resolve "end" now, not at first fetch
            self.caught_up.set()
        else:
            await self._consumer.seek_to_beginning(*partitions)
            self._end = await self._consumer.end_offsets(partitions)
            self._end = {tp: off for tp, off in self._end.items() if off > 0}
            await self._check_caught_up()
        self._task = asyncio.create_task(self._run(), name="topic-follower")

    async def _seek_to_time(self, partitions: list[TopicPartition]) -> None:
        since = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
        found = await self._consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        self._end = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            at = found.get(tp)
            self._consumer.seek(tp, at.offset if at is not None else self._end[tp])  # None: nothing that new
        await self._check_caught_up()

    async def _partitions_for(self, name: str) -> set[int]:
        for _ in range(50):
            await self._consumer._client.force_metadata_update()  # topic may be brand new
            parts = self._consumer.partitions_for_topic(name)
            if parts:
                return parts
            await asyncio.sleep(0.2)
        raise RuntimeError(f"topic {name} does not exist (run `voltstream topics apply`)")

    async def _check_caught_up(self) -> None:
        if self.caught_up.is_set():
            return
        for tp, end in self._end.items():
            if await self._consumer.position(tp) < end:
                return
        self.caught_up.set()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for rec in records:
                    self._deliver(rec)
            await self._check_caught_up()

    def _deliver(self, rec) -> None:
        base = self.bases[rec.topic]
        key = rec.key.decode() if rec.key is not None else ""
        if rec.value is None:
            self.on_record(base, key, None)
            return
        try:
            event = decode(rec.value)
        except DecodeError as exc:
            log.warning("undecodable_record", topic=rec.topic, offset=rec.offset, reason=exc.reason)
            if self.on_undecodable:
                self.on_undecodable(rec.topic, rec.partition, rec.offset, rec.key, rec.value, exc)
            return
        self.on_record(base, key, event)

    async def wait_caught_up(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.caught_up.wait(), timeout)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()
