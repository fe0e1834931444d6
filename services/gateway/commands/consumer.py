"""The command consumer: DESIGN.md "Commands", on every gateway replica.

- reads `commands` from the END (TopicFollower from_end): a (re)started gateway never replays
  a command published before it started;
- acts only on stations connected to THIS instance (the registry); every other replica ignores
  the command, so it reaches the charger once;
- drops expired commands and command ids it has already seen (bounded memory);
- its call timeout to the charger is always shorter than `expires_at` (minus a margin for the
  result to travel), so a silent charger gives `charger_timeout` before the requester's `timeout`;
- writes exactly one result per command it acts on, with the reply context echoed.

Bad arguments or a payload the OCA schema refuses give `rejected_by_gateway`, never a crash.

A special kind's handler that also has `command_done(connection, command)` hears of every command
this replica ran, whatever the outcome (the local-list sync re-reads a station's local
pre-authorisation after a set_configuration of it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.control import CommandKind, CommandOutcome, CommandRequest, CommandRequested
from libs.events.envelope import Event, utcnow
from libs.events.follower import TopicFollower
from services.gateway.commands.args import Args, BadArgs, parse_args
from services.gateway.commands.mapping import build_call, status_of
from services.gateway.commands.results import ResultWriter
from services.gateway.commands.target import Target
from services.gateway.connection import CallErrorReceived, StationConnection
from services.gateway.errors import OcppFault
from services.gateway.registry import ConnectionRegistry

log = structlog.get_logger("gateway.commands")

# A kind the gateway runs itself (several CALLs, or state of its own): (connection, target, args,
# call timeout) -> the charger's answer to report.
Special = Callable[[StationConnection, Target, Args, float], Awaitable[dict[str, Any]]]


class SeenIds:
    """The last `capacity` command ids, oldest forgotten first."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, command_id: str) -> bool:
        """True the first time an id is seen."""
        if command_id in self._ids:
            return False
        self._ids[command_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


def call_timeout(expires_at: datetime, now: datetime, configured: float, margin: float) -> float:
    """The charger gets at most `configured` seconds and always less than the time left: the
    result needs `margin` to reach the requester (half the time left when that is shorter)."""
    left = (expires_at - now).total_seconds()
    return max(0.05, min(configured, max(left - margin, left / 2)))


class CommandConsumer:
    def __init__(self, kafka: KafkaSettings, registry: ConnectionRegistry, index: CatalogIndex,
                 results: ResultWriter, *, call_timeout: float, result_margin: float = 1.0,
                 specials: dict[CommandKind, Special] | None = None):
        self.registry = registry
        self.index = index
        self.results = results
        self.call_timeout = call_timeout
        self.result_margin = result_margin
        self.specials = specials or {}
        self.seen = SeenIds()
        self.kafka = kafka
        self._tasks: set[asyncio.Task] = set()
        self._follower: TopicFollower | None = None

    async def start(self) -> None:
        # created here: an aiokafka consumer needs the running loop (the app is built before it)
        self._follower = TopicFollower(self.kafka, ["commands"], self._on_record, from_end=True)
        await self._follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _on_record(self, _topic: str, _key: str, event: Event | None) -> None:
        if not isinstance(event, CommandRequested) or event.station_id is None:
            return
        conn = self.registry.get(event.station_id)
        if conn is None:
            return  # held by another replica, or offline (the requester answers station_offline)
        cmd = event.payload
        if not self.seen.add(cmd.command_id):
            log.info("command_duplicate_dropped", command_id=cmd.command_id, station_id=event.station_id)
            return
        now = utcnow()
        if cmd.expired(now):
            log.info("command_expired_dropped", command_id=cmd.command_id, station_id=event.station_id)
            return
        task = asyncio.create_task(self.run(conn, cmd), name=f"command-{cmd.command_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, conn: StationConnection, cmd: CommandRequest) -> None:
        station_id = conn.station_id
        timeout = call_timeout(cmd.expires_at, utcnow(), self.call_timeout, self.result_margin)
        log.info("command_received", command_id=cmd.command_id, station_id=station_id, kind=cmd.kind.value,
                 protocol=conn.protocol, timeout=round(timeout, 2))
        try:
            response = await self._execute(conn, cmd, timeout)
        except BadArgs as exc:
            await self.results.write(station_id, cmd, CommandOutcome.REJECTED_BY_GATEWAY, error=str(exc))
        except OcppFault as fault:  # the payload failed the OCA schema before it was sent
            await self.results.write(station_id, cmd, CommandOutcome.REJECTED_BY_GATEWAY,
                                     error=f"invalid {conn.protocol} payload: {fault.detail}")
        except CallErrorReceived as exc:
            await self.results.write(station_id, cmd, CommandOutcome.CALL_ERROR, status=exc.code,
                                     error=f"{exc.code}: {exc.description}")
        except TimeoutError:
            await self.results.write(station_id, cmd, CommandOutcome.CHARGER_TIMEOUT,
                                     error=f"no answer within {timeout:.1f}s")
        except ConnectionError:
            await self.results.write(station_id, cmd, CommandOutcome.CHARGER_TIMEOUT,
                                     error="the charger disconnected before answering")
        except Exception as exc:  # noqa: BLE001 - a bug must never take the consumer down
            log.exception("command_failed", command_id=cmd.command_id, station_id=station_id)
            await self.results.write(station_id, cmd, CommandOutcome.REJECTED_BY_GATEWAY,
                                     error=f"gateway error: {type(exc).__name__}")
        else:
            await self.results.write(station_id, cmd, CommandOutcome.ANSWERED, status=status_of(response),
                                     response=response)
        finally:
            self._done(conn, cmd)

    def _done(self, conn: StationConnection, cmd: CommandRequest) -> None:
        for observer in {id(s): s for s in self.specials.values()}.values():
            command_done = getattr(observer, "command_done", None)
            if command_done is None:
                continue
            try:
                command_done(conn, cmd)
            except Exception:  # noqa: BLE001 - an observer never breaks the command path
                log.exception("command_observer_failed", command_id=cmd.command_id, station_id=conn.station_id)

    async def _execute(self, conn: StationConnection, cmd: CommandRequest, timeout: float) -> dict[str, Any]:
        args = parse_args(cmd.kind, cmd.args)
        target = Target(conn.station_id, cmd.command_id, self.index)
        special = self.specials.get(cmd.kind)
        if special is not None:
            return await special(conn, target, args, timeout)
        action, payload = build_call(conn.protocol, cmd.kind, args, target)
        return await conn.call(action, payload, timeout)
