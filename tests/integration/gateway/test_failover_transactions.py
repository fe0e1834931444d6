"""A transaction that starts on one gateway replica and continues on another after a failover:
the messages that leave out the EVSE (2.0.1 TransactionEvent after the first, 1.6 StopTransaction)
still get the right EVSE, connector and session on any replica (services/gateway/transaction_evses.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from libs.events.identity import ocpp16_transaction_id, session_id
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import KEYS, V16_STATION, V201_STATION, gateway_settings, read_topics

pytestmark = pytest.mark.kafka
TOPICS = ["transaction-events", "meter-values"]
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
TX = "TX-FAILOVER-1"


def ts(seconds: int) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def energy(wh: float, context: str, at: int) -> list[dict]:
    return [{"timestamp": ts(at), "sampled_value": [{"value": wh, "context": context,
                                                     "unit_of_measure": {"unit": "Wh"}}]}]


def tx_event(event_type: str, seq: int, at: int, meter: list | None, **kw) -> call201.TransactionEvent:
    return call201.TransactionEvent(event_type=event_type, timestamp=ts(at), seq_no=seq,
                                    transaction_info={"transaction_id": TX, **kw.pop("info", {})},
                                    meter_value=meter, **kw)


async def replica(catalog, tmp_path, name: str) -> GatewayApp:
    app = GatewayApp(gateway_settings(tmp_path / name), catalog, health=False)
    await app.start()
    return app


async def stop(app: GatewayApp) -> None:
    app.settings.drain_seconds = 0
    await app.stop()


async def connected(cls, station: str, app: GatewayApp):
    s = cls(station, f"ws://127.0.0.1:{app.server.port}/ocpp", KEYS[station])
    await s.connect()
    return s


async def test_failover_mid_transaction_keeps_the_evse_on_any_replica(catalog, tmp_path):
    a = await replica(catalog, tmp_path, "a")
    b = await replica(catalog, tmp_path, "b")  # already running: learns of the start as it happens
    apps = [a, b]
    try:
        # on replica A: both stations start a transaction on EVSE 2
        s201 = await connected(V201Station, V201_STATION, a)
        s16 = await connected(V16Station, V16_STATION, a)
        await s201.send(tx_event("Started", 0, 0, energy(1000, "Transaction.Begin", 0), trigger_reason="Authorized",
                                 evse={"id": 2, "connector_id": 1}, info={"charging_state": "EVConnected"}))
        start16 = await s16.send(call16.StartTransaction(connector_id=2, id_tag="04A1B2C3D4E5F6", meter_start=500,
                                                         timestamp=ts(0)))
        # replica A goes away mid-transaction (its memory with it); the stations fail over to B
        await s201.close()
        await s16.close()
        await stop(a)
        apps.remove(a)
        s201 = await connected(V201Station, V201_STATION, b)
        s16 = await connected(V16Station, V16_STATION, b)
        # no `evse` from here on, as 2.0.1 allows after the first TransactionEvent
        await s201.send(tx_event("Updated", 1, 60, energy(2500, "Sample.Periodic", 60),
                                 trigger_reason="MeterValuePeriodic", info={"charging_state": "Charging"}))
        ended = tx_event("Ended", 2, 120, energy(4000, "Transaction.End", 120), trigger_reason="EVDeparted",
                         info={"stopped_reason": "EVDisconnected"})
        await s201.send(ended)
        tx16 = start16.transaction_id
        await s16.send(call16.StopTransaction(meter_stop=1700, timestamp=ts(120), transaction_id=tx16,
                                              transaction_data=[{"timestamp": ts(120), "sampled_value": [
                                                  {"value": "1700", "context": "Transaction.End"}]}]))
        await s201.close()
        await s16.close()

        def after_failover(events):  # what replica B produced
            return [e for e in events if e.occurred_at > BASE]
        events = await read_topics(catalog, TOPICS, until=lambda ev: len(after_failover(ev)) >= 6)
        got = {(e.station_id, e.type, getattr(e.payload, "context", None)): e for e in after_failover(events)}
        assert set(got) == {
            (V201_STATION, "transaction.updated", None), (V201_STATION, "meter.sampled", "Sample.Periodic"),
            (V201_STATION, "transaction.ended", None), (V201_STATION, "meter.sampled", "Transaction.End"),
            (V16_STATION, "transaction.ended", None), (V16_STATION, "meter.sampled", "Transaction.End")}
        sid201 = session_id(V201_STATION, TX, None)
        sid16 = session_id(V16_STATION, tx16, datetime.fromisoformat(ts(0)))
        assert tx16 == ocpp16_transaction_id(V16_STATION, 2, "04A1B2C3D4E5F6", 500, datetime.fromisoformat(ts(0)))
        for (station, kind, context), e in got.items():
            p = e.payload
            want_sid = sid201 if station == V201_STATION else sid16
            assert (p.evse_id, p.connector_id, p.session_id) == (2, 1, want_sid), (station, kind, context)
        assert got[(V201_STATION, "transaction.ended", None)].payload.meter_stop_wh == 4000.0

        # the Ended's answer was lost with another failover: re-sent to a replica started only now
        # (it reads the view from the topic at start), it is the same fact with the same event ids
        c = await replica(catalog, tmp_path, "c")
        apps.append(c)
        again = await connected(V201Station, V201_STATION, c)
        await again.send(ended)
        await again.close()
        events = await read_topics(catalog, TOPICS, until=lambda ev: sum(
            e.type == "transaction.ended" and e.station_id == V201_STATION for e in ev) >= 2)
        ends = [e for e in events if e.station_id == V201_STATION and e.payload.seq_no == 2]
        assert len(ends) == 4  # ended + its sample, twice
        assert len({e.event_id for e in ends}) == 2
    finally:
        for app in apps:
            await stop(app)
