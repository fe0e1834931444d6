"""CommandsClient: the requester's side of DESIGN.md "Commands".

The requester owns `station_offline` (answered at once from the presence view, nothing is sent)
and `timeout` (no result by `expires_at`: the gateway never reported). The gateway's own call
timeout is shorter than `expires_at`, so a charger that never answers yields `charger_timeout`
from the gateway, not `timeout` from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from libs.catalog.presence import PresenceView
from libs.events.bus import KafkaSettings
from libs.events.control import (
    CommandAnswer,
    CommandKind,
    CommandOutcome,
    CommandRequest,
    CommandRequested,
    CommandResult,
)
from libs.events.envelope import Event, Source
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer

log = structlog.get_logger("commands")
DEFAULT_TIMEOUT_S = 60.0


class CommandsClient:
    def __init__(
        self, settings: KafkaSettings, producer: EventProducer, presence: PresenceView, source: Source = Source.OPERATOR
    ):
        self.producer = producer
        self.presence = presence
        self.source = source
        self._pending: dict[str, asyncio.Future[CommandAnswer]] = {}
        # Results are read from the end: only answers to commands sent from now on matter here.
        self._results = TopicFollower(settings, ["command-results"], self._on_result, from_end=True)

    async def start(self) -> None:
        await self._results.start()

    async def stop(self) -> None:
        await self._results.stop()
        for fut in self._pending.values():
            fut.cancel()

    def _on_result(self, _topic: str, _key: str, event: Event | None) -> None:
        if isinstance(event, CommandResult):
            fut = self._pending.get(event.payload.command_id)
            if fut is not None and not fut.done():
                fut.set_result(event.payload)

    async def send(
        self,
        station_id: str,
        kind: CommandKind | str,
        args: dict[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        reply_context: dict[str, Any] | None = None,
        command_id: str | None = None,
    ) -> CommandAnswer:
        """Send one command and wait for the charger's answer (or offline / timeout)."""
        command_id = command_id or str(uuid.uuid4())
        reply_context = reply_context or {}
        if not self.presence.is_online(station_id):
            return CommandAnswer(command_id=command_id, outcome=CommandOutcome.STATION_OFFLINE,
                                 error=f"{station_id} is not connected", reply_context=reply_context)
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=timeout_s)
        fut: asyncio.Future[CommandAnswer] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = fut
        try:
            await self.producer.send(CommandRequested.create(
                payload=CommandRequest(command_id=command_id, kind=CommandKind(kind), args=args or {},
                                       expires_at=expires_at, reply_context=reply_context),
                source=self.source, station_id=station_id, occurred_at=now, received_at=now,
            ))
            log.info("command_sent", command_id=command_id, station_id=station_id, kind=str(kind))
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
            except TimeoutError:
                return CommandAnswer(command_id=command_id, outcome=CommandOutcome.TIMEOUT,
                                     error="no result before expires_at", reply_context=reply_context)
        finally:
            self._pending.pop(command_id, None)


@contextlib.asynccontextmanager
async def open_client(settings: KafkaSettings, *, source: Source = Source.OPERATOR,
                      client_id: str = "voltstream-commands", ready_timeout: float = 30.0) -> AsyncIterator[CommandsClient]:
    """A ready CommandsClient on its own producer and presence view (the operator CLI's way in):
    presence is read to its end first, so `station_offline` is answered from current knowledge."""
    presence = PresenceView()
    async with EventProducer(settings, client_id=client_id) as producer:
        await presence.follow(settings)
        client = CommandsClient(settings, producer, presence, source=source)
        try:
            await presence.wait_caught_up(ready_timeout)
            await client.start()
            yield client
        finally:
            await client.stop()
            await presence.stop()
