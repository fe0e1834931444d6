"""The reusable simulator drives full sessions of both versions through a real gateway."""

from __future__ import annotations

import asyncio

import pytest

from libs.simulator.fleet import Fleet, FleetConfig, power_curve
from tests.integration.gateway.conftest import KEYS, V16_STATION, V201_STATION, read_topics

pytestmark = pytest.mark.kafka


def test_power_curve_ramps_plateaus_and_tapers():
    assert power_curve(0, 100, 22000) == 0
    assert power_curve(30, 100, 22000) == 22000
    assert 1000 < power_curve(90, 100, 22000) < 22000


async def test_fleet_runs_sessions_of_both_versions(gateway, catalog):
    cfg = FleetConfig(url=f"ws://127.0.0.1:{gateway.server.port}/ocpp", names=[V16_STATION, V201_STATION],
                      keys=KEYS, meter_interval=0.2, session_minutes=0.03, heartbeat_interval=0.5)
    fleet = Fleet(cfg)
    assert [s.protocol for s in fleet.stations] == ["ocpp1.6", "ocpp2.0.1"]
    task = asyncio.create_task(fleet.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while fleet.stats.sessions < 2 and loop.time() < deadline:
        await asyncio.sleep(0.2)
    await fleet.stop()
    task.cancel()
    assert fleet.stats.sessions >= 2 and fleet.stats.boots == 2
    assert all(s.errors == 0 for s in fleet.stations)

    def done(ev):
        return {(e.station_id, e.type) for e in ev} >= {(V16_STATION, "transaction.ended"),
                                                        (V201_STATION, "transaction.ended")}
    events = await read_topics(catalog, ["transaction-events", "meter-values", "station-events"], until=done)
    for station in (V16_STATION, V201_STATION):
        kinds = {e.type for e in events if e.station_id == station}
        assert {"transaction.started", "transaction.updated", "transaction.ended", "meter.sampled",
                "token.authorized", "station.booted"} <= kinds, station
        suspended = [e for e in events if e.station_id == station and e.type == "station.status_changed"
                     and e.payload.detail == "SuspendedEV"]
        if station == V16_STATION:
            assert suspended
        power = [e.payload for e in events if e.station_id == station and e.type == "meter.sampled"
                 and e.payload.measurand == "Power.Active.Import"]
        assert power and all(p.unit == "W" for p in power) and max(p.value for p in power) > 1000
