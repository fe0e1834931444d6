"""Live connections by station id: the one place that knows which chargers this instance holds.

A second connection with the same station id replaces the first (the old one is closed with
reason `replaced`). `call(station_id, action, payload)` is what the command runner (issue 5)
uses to talk to a charger; it raises StationNotConnected for a station held elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.gateway.connection import StationConnection


class StationNotConnected(LookupError):
    pass


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_station: dict[str, StationConnection] = {}

    def __len__(self) -> int:
        return len(self._by_station)

    def get(self, station_id: str) -> StationConnection | None:
        return self._by_station.get(station_id)

    def connections(self) -> list[StationConnection]:
        return list(self._by_station.values())

    def add(self, conn: StationConnection) -> StationConnection | None:
        """Register `conn`; returns the connection it replaces, if any."""
        old = self._by_station.get(conn.station_id)
        self._by_station[conn.station_id] = conn
        return old

    def remove(self, conn: StationConnection) -> bool:
        """Unregister `conn` unless it was already replaced; True when it was the current one."""
        if self._by_station.get(conn.station_id) is conn:
            del self._by_station[conn.station_id]
            return True
        return False

    async def call(self, station_id: str, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        conn = self._by_station.get(station_id)
        if conn is None:
            raise StationNotConnected(station_id)
        return await conn.call(action, payload, timeout)

    def silent_since(self, seconds: float) -> list[StationConnection]:
        cutoff = time.monotonic() - seconds
        return [c for c in self._by_station.values() if c.last_seen < cutoff]

    async def close_all(self, spread_seconds: float, reason: str = "shutdown") -> None:
        """Close every connection, spread over `spread_seconds` so chargers reconnect elsewhere
        gradually instead of in one storm."""
        conns = self.connections()
        if not conns:
            return
        batches = max(1, min(len(conns), int(spread_seconds * 10)))
        size = -(-len(conns) // batches)
        pause = spread_seconds / batches
        for i in range(0, len(conns), size):
            await asyncio.gather(*(c.close(1001, "gateway shutting down", reason) for c in conns[i:i + size]),
                                 return_exceptions=True)
            if i + size < len(conns):
                await asyncio.sleep(pause)
