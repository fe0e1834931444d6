"""Accepted commands whose CommandResult is owed to an eMSP, kept in the adapter's database so a
restarted adapter (or another replica) still POSTs it to `response_url` (docs/ocpi-receiver.md,
"Commands across a restart").

A row is written before the CommandResponse ACCEPTED is answered, marked `sent_at` once Kafka
acknowledged the `command.requested`, `claimed_at` (with the result) by whoever is about to POST
the CommandResult, and `done_at` once the POST succeeded or was given up. The claim is one
conditional UPDATE, so of several replicas (PostgreSQL) exactly one posts a result.

`ResultScan` reads `command-results` from a point in time on: a restarted adapter finds the
answers the gateway published while it was down (the commands client follows the topic only
from its end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import DateTime, Integer, String, Text, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.events.bus import KafkaSettings
from libs.events.control import CommandAnswer, CommandResult
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from services.ocpi.db import naive_utc, now_naive

log = structlog.get_logger("ocpi.pending_commands")
KEEP = timedelta(days=1)  # rows older than this are dropped at start, posted or not


class _Base(DeclarativeBase):
    pass


class CommandRow(_Base):
    __tablename__ = "ocpi_commands"
    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(24))  # START_SESSION, …
    response_url: Mapped[str] = mapped_column(Text)
    to_country: Mapped[str | None] = mapped_column(String(2), nullable=True)  # OCPI-to of the result POST
    to_party: Mapped[str | None] = mapped_column(String(3), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)  # libs/events CommandKind
    station_id: Mapped[str | None] = mapped_column(String(48), nullable=True)
    args: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str | None] = mapped_column(String(32), nullable=True)  # CommandResultType
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass
class Pending:
    """A command row as plain values (usable outside its database session)."""

    command_id: str
    partner_id: int
    command: str
    response_url: str
    to_party: tuple[str, str] | None
    kind: str | None
    station_id: str | None
    args: dict[str, Any]
    created_at: datetime  # naive UTC, as stored
    expires_at: datetime
    sent_at: datetime | None = None
    result: str | None = None
    message: str | None = None
    claimed_at: datetime | None = None

    @classmethod
    def of(cls, row: CommandRow) -> Pending:
        to_party = (row.to_country, row.to_party) if row.to_country and row.to_party else None
        return cls(row.command_id, row.partner_id, row.command, row.response_url, to_party, row.kind,
                   row.station_id, orjson.loads(row.args or "{}"), row.created_at, row.expires_at, row.sent_at,
                   row.result, row.message, row.claimed_at)

    def row(self) -> CommandRow:
        return CommandRow(command_id=self.command_id, partner_id=self.partner_id, command=self.command,
                          response_url=self.response_url, to_country=self.to_party[0] if self.to_party else None,
                          to_party=self.to_party[1] if self.to_party else None, kind=self.kind,
                          station_id=self.station_id, args=orjson.dumps(self.args).decode(),
                          created_at=self.created_at, expires_at=self.expires_at, result=self.result,
                          message=self.message)

    def seconds_left(self) -> float:
        return (self.expires_at - now_naive()).total_seconds()


class PendingCommands:
    def __init__(self, sessionmaker):
        self.sm = sessionmaker

    async def add(self, pending: Pending) -> None:
        async with self.sm.begin() as db:
            db.add(pending.row())

    async def mark_sent(self, command_id: str) -> None:
        async with self.sm.begin() as db:
            await db.execute(update(CommandRow).where(CommandRow.command_id == command_id, CommandRow.sent_at.is_(None))
                             .values(sent_at=now_naive()))

    async def claim(self, command_id: str, result: str, message: str | None,
                    stale_claim: datetime | None = None) -> bool:
        """Take the right to POST this command's result (recording it); False when another task or
        replica already did. `stale_claim`: take over a claim made at that time that never
        finished (its poster died)."""
        taken = CommandRow.claimed_at.is_(None)
        if stale_claim is not None:
            taken = or_(taken, and_(CommandRow.claimed_at == stale_claim, CommandRow.done_at.is_(None)))
        async with self.sm.begin() as db:
            res = await db.execute(update(CommandRow).where(CommandRow.command_id == command_id, taken)
                                   .values(claimed_at=now_naive(), result=result, message=message))
        return res.rowcount == 1

    async def done(self, command_id: str) -> None:
        async with self.sm.begin() as db:
            await db.execute(update(CommandRow).where(CommandRow.command_id == command_id).values(done_at=now_naive()))

    async def unfinished(self, before: datetime) -> list[Pending]:
        """Every command accepted before `before` whose result was not posted yet, after dropping
        rows older than KEEP."""
        async with self.sm.begin() as db:
            await db.execute(delete(CommandRow).where(CommandRow.created_at < now_naive() - KEEP))
            rows = (await db.execute(select(CommandRow).where(CommandRow.done_at.is_(None),
                                                              CommandRow.created_at < naive_utc(before))
                                     .order_by(CommandRow.created_at))).scalars().all()
            return [Pending.of(r) for r in rows]


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)


class ResultScan:
    """`command-results` from `since` on, for the given command ids: `answer(command_id)` waits
    for one. `caught_up` is set once the scan reached the end the topic had when it started, so
    a missing answer is then known not to have been published before."""

    def __init__(self, kafka: KafkaSettings, command_ids: Iterable[str], since: datetime):
        self.kafka = kafka
        self.since = since
        self.waiting: dict[str, asyncio.Future[CommandAnswer]] = {}
        self._ids = set(command_ids)
        self._follower = TopicFollower(kafka, ["command-results"], self._deliver, since=since)
        self.caught_up = self._follower.caught_up

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.waiting = {cid: loop.create_future() for cid in self._ids}
        await self._follower.start()

    def _deliver(self, _topic: str, _key: str, event: Event | None) -> None:
        if isinstance(event, CommandResult):
            fut = self.waiting.get(event.payload.command_id)
            if fut is not None and not fut.done():
                fut.set_result(event.payload)

    async def answer(self, command_id: str, timeout: float) -> CommandAnswer | None:
        """The gateway's answer once the scan caught up, waiting at most `timeout` more for it."""
        await self.caught_up.wait()
        fut = self.waiting[command_id]
        try:
            return await asyncio.wait_for(asyncio.shield(fut), max(timeout, 0.0))
        except TimeoutError:
            return fut.result() if fut.done() else None

    async def stop(self) -> None:
        await self._follower.stop()


def scan_start(pending: Iterable[Pending], skew: timedelta = timedelta(seconds=60)) -> datetime:
    """Where a scan for these commands' results begins: before the oldest was created, with a
    margin for the clock difference between the adapter and the gateway."""
    return naive_utc(min(p.created_at for p in pending)) - skew
