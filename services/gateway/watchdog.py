"""Missed heartbeats: close connections that sent nothing for grace × heartbeat interval.

Any frame from the charger counts (OCPP 2.0.1 HeartbeatInterval is an interval of inactivity).
The connection is closed with reason `heartbeat_missed`, which its station.disconnected carries.

OCPP 1.6J does not require heartbeats (OCPP 1.6 §4.6 Heartbeat: "With JSON over WebSocket, sending
heartbeats is not mandatory"; the WebSocket ping keeps the connection): while the gateway pings
(`ping_interval`), a 1.6 connection is left to the ping timeout (reason `ping_timeout`), and only
without pings does the heartbeat rule apply to it.
Each close runs on its own: closing a dead TCP connection waits out the WebSocket close timeout,
and one such charger must not delay noticing the others (a site whose network went down).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from services.gateway.errors import V16
from services.gateway.registry import ConnectionRegistry

log = structlog.get_logger("gateway.watchdog")


class HeartbeatWatchdog:
    def __init__(self, registry: ConnectionRegistry, heartbeat_interval: float, grace: float,
                 pings: bool = False):
        self.registry = registry
        self.limit = heartbeat_interval * grace
        self.pings = pings  # the server pings every connection: 1.6 ones are kept alive by pongs
        self._task: asyncio.Task | None = None
        self._closing: set[asyncio.Task] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat-watchdog")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(self.limit / 4, 30))
            self.check()

    def check(self) -> None:
        for conn in self.registry.silent_since(self.limit):
            if conn.close_reason is not None:
                continue  # already being closed (by this watchdog or anyone else)
            if self.pings and conn.protocol == V16:
                continue  # heartbeats are optional in 1.6J: the ping timeout watches this one
            log.info("heartbeat_missed", station_id=conn.station_id)
            conn.close_reason = "heartbeat_missed"
            task = asyncio.create_task(conn.close(1001, "heartbeat missed", "heartbeat_missed"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def stop(self) -> None:
        """Stop watching; closes under way finish on their own (shutdown closes the rest)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
