"""Which silent connections the missed-heartbeat watchdog closes (pure selection logic; the
closing itself is tested against a real gateway in tests/integration/gateway)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from services.gateway.errors import V16
from services.gateway.watchdog import HeartbeatWatchdog

V201 = "ocpp2.0.1"


@dataclass
class FakeConnection:
    station_id: str
    protocol: str
    close_reason: str | None = None
    closed_with: list = field(default_factory=list)

    async def close(self, code: int, reason: str, why: str) -> None:
        self.closed_with.append((code, why))


class FakeRegistry:
    def __init__(self, silent: list[FakeConnection]):
        self.silent = silent

    def silent_since(self, seconds: float) -> list[FakeConnection]:
        return list(self.silent)


async def closed_by(pings: bool) -> set[str]:
    conns = [FakeConnection("A", V16), FakeConnection("B", V201), FakeConnection("C", V201, close_reason="shutdown")]
    HeartbeatWatchdog(FakeRegistry(conns), heartbeat_interval=60, grace=2, pings=pings).check()
    await asyncio.sleep(0)
    return {c.station_id for c in conns if c.closed_with == [(1001, "heartbeat_missed")]}


async def test_a_silent_1_6_station_is_left_to_the_ping_timeout_while_the_gateway_pings():
    assert await closed_by(pings=True) == {"B"}


async def test_without_pings_the_heartbeat_rule_watches_1_6_stations_too():
    assert await closed_by(pings=False) == {"A", "B"}
