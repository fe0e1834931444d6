"""The local spool: an fsync'd append-only file of encoded events, used while Kafka is down.

Layout in the spool directory: `events.log` (one encoded event per line, appended and fsync'd
before the charger is answered; a KeyedRecord as `{"keyed": {"topic", "key"}, "event": …|null}`)
and `cursor` (byte offset of the first event not yet acknowledged by Kafka, fsync'd after each
replayed batch). Replay reads from the cursor, in order; when everything is replayed the log is
truncated. A crash between the Kafka ack and the cursor write replays a batch twice, which is
harmless: event ids are deterministic.

Appends are group-committed: the appends that arrive while one write + fsync runs are written
together with the next single fsync, in arrival order, and each caller returns only after the
fsync covering its events. One fsync per CALL under a lock capped a spooling gateway at
1/fsync-time CALLs per second (≈100–300/s on ordinary disks), for every station at once.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from libs.events.codec import decode, encode
from libs.events.envelope import Event


class SpoolFull(Exception):
    pass


@dataclass(frozen=True)
class KeyedRecord:
    """A record of a compacted view the gateway keeps (transaction_evses.py): an event under a key
    of the view's own rather than the event's topic and key, or a tombstone (event None). It is
    delivered like the events it accompanies: acknowledged or spooled, in order."""

    topic: str  # base name
    key: str
    event: Event | None


Item = Event | KeyedRecord
_KEYED_PREFIX = b'{"keyed":'


def encode_item(item: Item) -> bytes:
    if isinstance(item, KeyedRecord):
        event = encode(item.event) if item.event is not None else b"null"
        return _KEYED_PREFIX + orjson.dumps({"topic": item.topic, "key": item.key}) + b',"event":' + event + b"}"
    return encode(item)


def decode_item(data: bytes) -> Item:
    if data.startswith(_KEYED_PREFIX):
        raw = orjson.loads(data)
        event = decode(orjson.dumps(raw["event"])) if raw["event"] is not None else None
        return KeyedRecord(raw["keyed"]["topic"], raw["keyed"]["key"], event)
    return decode(data)


class Spool:
    def __init__(self, directory: Path, max_bytes: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._log = self.directory / "events.log"
        self._cursor_file = self.directory / "cursor"
        self._lock = asyncio.Lock()
        self._queued: list[tuple[bytes, int, asyncio.Future]] = []  # appends waiting for the next fsync
        self._writer: asyncio.Task | None = None
        self._log.touch(exist_ok=True)
        self._size = self._log.stat().st_size
        self._cursor = int(self._cursor_file.read_text() or 0) if self._cursor_file.exists() else 0
        self.pending_events = sum(1 for _ in self._lines(self._cursor)) if self._size > self._cursor else 0

    @property
    def pending_bytes(self) -> int:
        return self._size - self._cursor

    def empty(self) -> bool:
        return self._size <= self._cursor

    async def append(self, events: list[Item]) -> None:
        data = b"".join(encode_item(e) + b"\n" for e in events)
        fut = asyncio.get_running_loop().create_future()
        self._queued.append((data, len(events), fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="spool-group-commit")
        # shielded: a caller that goes away (connection closed) doesn't cancel a group write
        await asyncio.shield(fut)

    async def _write_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            async with self._lock:
                accepted: list[tuple[bytes, asyncio.Future]] = []
                size, count = self._size - self._cursor, 0
                for data, n, fut in group:  # in arrival order, as one append at a time would
                    if size + len(data) > self.max_bytes:
                        fut.set_exception(SpoolFull(f"spool holds {size} bytes, limit {self.max_bytes}"))
                        continue
                    accepted.append((data, fut))
                    size += len(data)
                    count += n
                if not accepted:
                    continue
                data = b"".join(d for d, _ in accepted)
                try:
                    await asyncio.to_thread(self._write, data)
                except Exception as exc:  # noqa: BLE001 - each waiting caller gets the error
                    for _, fut in accepted:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                self._size += len(data)
                self.pending_events += count
            for _, fut in accepted:
                if not fut.done():
                    fut.set_result(None)

    def _write(self, data: bytes) -> None:
        with open(self._log, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def _lines(self, start: int, limit: int | None = None):
        with open(self._log, "rb") as f:
            f.seek(start)
            n = 0
            for line in f:
                if not line.endswith(b"\n"):
                    return  # a torn last write (crash mid-append) was never answered
                yield line
                n += 1
                if limit is not None and n >= limit:
                    return

    async def peek(self, limit: int = 500) -> tuple[list[Item], int]:
        """The next events in order and the cursor position after them."""
        async with self._lock:
            lines = await asyncio.to_thread(lambda: list(self._lines(self._cursor, limit)))
            return [decode_item(line[:-1]) for line in lines], self._cursor + sum(len(x) for x in lines)

    async def commit(self, position: int, count: int) -> None:
        """Everything before `position` reached Kafka."""
        async with self._lock:
            self._cursor = position
            self.pending_events = max(0, self.pending_events - count)
            await asyncio.to_thread(self._write_cursor)

    def _write_cursor(self) -> None:
        if self._cursor >= self._size:  # all replayed: start a fresh log
            with open(self._log, "wb") as f:
                os.fsync(f.fileno())
            self._size = self._cursor = 0
        tmp = self._cursor_file.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(str(self._cursor))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._cursor_file)
