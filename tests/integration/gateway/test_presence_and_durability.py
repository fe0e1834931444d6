"""Presence (ping timeout, SIGKILLed gateway), two replicas at once, and a Kafka outage mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call as call16
from websockets.asyncio.client import connect

from libs.catalog.presence import PresenceView
from libs.events.admin import apply_topics
from libs.events.bus import KafkaSettings
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.conftest import free_port
from tests.integration.gateway.conftest import (
    KEYS,
    V16_STATION,
    V201_STATION,
    basic,
    gateway_settings,
    publish_catalog,
    read_topics,
)

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).parents[3]


async def wait_for(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_ping_timeout_marks_station_disconnected(catalog, tmp_path):
    app = GatewayApp(gateway_settings(tmp_path, ping_interval=0.5, ping_timeout=0.5), catalog, health=False)
    await app.start()
    try:
        ws = await connect(f"ws://127.0.0.1:{app.server.port}/ocpp/{V16_STATION}", subprotocols=["ocpp1.6"],
                           additional_headers=basic(V16_STATION, KEYS[V16_STATION]), ping_interval=None)
        ws.transport.pause_reading()  # a charger that went dark: no pongs
        events = await read_topics(catalog, ["station-events"], until=lambda ev: any(
            e.type == "station.disconnected" for e in ev), timeout=20)
        gone = [e for e in events if e.type == "station.disconnected"]
        assert gone and gone[0].payload.reason == "ping_timeout"
        presence = await read_topics(catalog, ["station-presence"], until=lambda ev: any(
            not e.payload.online for e in ev))
        assert presence[-1].payload.online is False and presence[-1].station_id == V16_STATION
        ws.transport.abort()
    finally:
        app.settings.drain_seconds = 0
        await app.stop()


async def test_missed_heartbeats_close_the_connection_and_say_why(catalog, tmp_path):
    """interval 1 s × grace 2: a 2.0.1 station silent for 2 s is closed with reason heartbeat_missed;
    one that keeps heartbeating stays. A charger gone dark (its TCP connection unread) is reported
    after the close timeout, without holding up the report of the others. A silent 1.6 station
    stays: heartbeats are optional in 1.6J while the gateway pings it and it answers."""
    app = GatewayApp(gateway_settings(tmp_path, heartbeat_interval=1, heartbeat_grace=2.0, ping_interval=0.5),
                     catalog, health=False)
    await app.start()
    base = f"ws://127.0.0.1:{app.server.port}/ocpp"
    dark = await connect(f"{base}/MUC-DC-001", subprotocols=["ocpp2.0.1"],
                         additional_headers=basic("MUC-DC-001", KEYS["MUC-DC-001"]), ping_interval=None)
    dark.transport.pause_reading()  # gone dark: never reads the gateway's close frame
    silent = V201Station("MUC-DC-002", base, KEYS["MUC-DC-002"])
    silent16 = V16Station(V16_STATION, base, KEYS[V16_STATION])
    alive = V201Station(V201_STATION, base, KEYS[V201_STATION])
    loop = asyncio.get_running_loop()

    async def keep_alive():
        while True:
            await alive.heartbeat()
            await asyncio.sleep(0.4)

    def reasons(events):
        return {e.station_id: e.payload.reason for e in events if e.type == "station.disconnected"}

    heartbeats = None
    try:
        await silent.connect()
        await silent16.connect()
        await alive.connect()
        heartbeats = asyncio.create_task(keep_alive())
        assert (await silent.boot()).interval == 1  # the interval the watchdog holds it to
        assert (await silent16.boot()).interval == 1
        t0 = loop.time()
        await asyncio.wait_for(silent.wait_closed(), 6)
        assert 1.5 < loop.time() - t0 < 6 and silent.ws.close_code == 1001
        events = await read_topics(catalog, ["station-events"], until=lambda ev: len(reasons(ev)) >= 2, timeout=30)
        assert reasons(events) == {"MUC-DC-002": "heartbeat_missed", "MUC-DC-001": "heartbeat_missed"}
        assert loop.time() - t0 > 3  # well past the 2 s limit: the silent 1.6 station is still there
        assert alive.connected and silent16.connected and app.registry.get(V16_STATION) is not None
        presence = await read_topics(catalog, ["station-presence"])
        latest = {e.station_id: e.payload.online for e in presence}
        assert latest == {"MUC-DC-002": False, "MUC-DC-001": False, V201_STATION: True, V16_STATION: True}
    finally:
        if heartbeats is not None:
            heartbeats.cancel()
        dark.transport.abort()
        await silent.close()
        await silent16.close()
        await alive.close()
        app.settings.drain_seconds = 0
        await app.stop()


async def wait_ready(health_port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout / 0.25)):
            assert proc.poll() is None, "gateway exited"
            try:
                if (await client.get(f"http://127.0.0.1:{health_port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError("gateway never became ready")


def gateway_env(settings: KafkaSettings, tmp_path: Path, port: int, health: int, instance: str) -> dict:
    return {**os.environ,
            "VOLTSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap, "VOLTSTREAM_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
            "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(settings.station_partitions),
            "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(settings.other_partitions),
            "VOLTSTREAM_GATEWAY_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_PORT": str(port),
            "VOLTSTREAM_GATEWAY_HEALTH_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_HEALTH_PORT": str(health),
            "VOLTSTREAM_GATEWAY_SPOOL_DIR": str(tmp_path / "spool"), "VOLTSTREAM_GATEWAY_INSTANCE_ID": instance}


async def test_sigkilled_gateway_stations_turn_offline_when_lease_lapses(catalog, tmp_path):
    port, health, instance = free_port(), free_port(), f"gw-kill-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT,
                            env=gateway_env(catalog, tmp_path, port, health, instance),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    view = PresenceView()
    try:
        await wait_ready(health, proc)
        metrics = httpx.get(f"http://127.0.0.1:{health}/metrics").text
        assert "voltstream_gateway_spool_events" in metrics
        station = V16Station(V16_STATION, f"ws://127.0.0.1:{port}/ocpp", KEYS[V16_STATION])
        await station.connect()
        assert (await station.boot()).status == "Accepted"
        await view.follow(catalog)
        await wait_for(lambda: view.is_online(V16_STATION), 20, "station online")
        assert view.gateway_of(V16_STATION) == instance
        proc.send_signal(signal.SIGKILL)  # no goodbye: no disconnect event, the lease just lapses
        proc.wait(10)
        await wait_for(lambda: not view.is_online(V16_STATION), 30, "lease lapse")
        assert view.presence(V16_STATION).online is True  # the record still says online ...
        assert not view.instance_alive(instance)  # ... but its gateway's lease is gone
        await station.close()
    finally:
        await view.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_sigterm_drains_and_reports_disconnects(catalog, tmp_path):
    port, health, instance = free_port(), free_port(), f"gw-term-{uuid.uuid4().hex[:6]}"
    env = gateway_env(catalog, tmp_path, port, health, instance) | {"VOLTSTREAM_GATEWAY_DRAIN_SECONDS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(health, proc)
        station = V16Station(V16_STATION, f"ws://127.0.0.1:{port}/ocpp", KEYS[V16_STATION])
        await station.connect()
        await station.heartbeat()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        await asyncio.wait_for(station.wait_closed(), 5)
        assert station.ws.close_code == 1001
        events = await read_topics(catalog, ["station-events"], until=lambda ev: any(
            e.type == "station.disconnected" for e in ev))
        assert [e.payload.reason for e in events if e.type == "station.disconnected"] == ["shutdown"]
        view = PresenceView()
        await view.follow(catalog)
        await view.wait_caught_up(20)
        await view.stop()
        assert not view.instance_alive(instance)  # the lease was released on the way out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_two_replicas_serve_different_stations(catalog, tmp_path):
    a = GatewayApp(gateway_settings(tmp_path / "a"), catalog, health=False)
    b = GatewayApp(gateway_settings(tmp_path / "b"), catalog, health=False)
    await a.start()
    await b.start()
    view = PresenceView()
    try:
        s1 = V16Station(V16_STATION, f"ws://127.0.0.1:{a.server.port}/ocpp", KEYS[V16_STATION])
        s2 = V201Station(V201_STATION, f"ws://127.0.0.1:{b.server.port}/ocpp", KEYS[V201_STATION])
        await s1.connect()
        await s2.connect()
        r1, r2 = await asyncio.gather(s1.boot(), s2.boot())
        assert r1.status == r2.status == "Accepted"
        await view.follow(catalog)
        await wait_for(lambda: view.gateway_of(V16_STATION) == a.settings.instance_id
                       and view.gateway_of(V201_STATION) == b.settings.instance_id, 20, "presence on both")
        assert a.registry.get(V201_STATION) is None and b.registry.get(V16_STATION) is None
        await s1.close()
        await s2.close()
    finally:
        await view.stop()
        for app in (a, b):
            app.settings.drain_seconds = 0
            await app.stop()


async def test_kafka_stopped_mid_run_spool_then_exactly_once_in_effect(tmp_path):
    from voltstream.kafka_local import LocalKafka

    broker = LocalKafka(home=tmp_path / "kafka", port=free_port(), controller_port=free_port(), quiet=True)
    await asyncio.to_thread(broker.start)
    try:
        settings = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix="out.", station_partitions=2,
                                 other_partitions=1)
        await apply_topics(settings)
        await publish_catalog(settings)
        app = GatewayApp(gateway_settings(tmp_path, kafka_ack_timeout=1.0), settings, health=False)
        await app.start()
        station = V16Station(V16_STATION, f"ws://127.0.0.1:{app.server.port}/ocpp", KEYS[V16_STATION])
        await station.connect()
        answered_before = [await station.heartbeat() for _ in range(3)]
        await asyncio.to_thread(broker.stop)  # Kafka gone
        answered = []
        for i in range(12):  # chargers keep getting answers, the spool fills
            answered.append(await station.send(call16.StatusNotification(
                connector_id=1, error_code="NoError", status="Charging" if i % 2 else "SuspendedEV",
                timestamp=f"2026-02-01T10:00:{i:02d}Z")))
        assert len(answered) == 12 and len(answered_before) == 3
        # a transaction start too: its transaction-evses record is spooled with it
        start = await station.send(call16.StartTransaction(connector_id=2, id_tag="04A1B2C3D4E5F6", meter_start=0,
                                                           timestamp="2026-02-01T10:01:00Z"))
        assert app.spool.pending_events >= 10
        await asyncio.to_thread(broker.start)  # Kafka back: the spool is replayed in order
        await wait_for(lambda: app.spool.empty(), 90, "spool replay")
        events = await read_topics(settings, ["station-events"], until=lambda ev: len(
            {e.event_id for e in ev if e.type == "station.status_changed"}) >= 12, timeout=30)
        statuses = [e for e in events if e.type == "station.status_changed"]
        assert len({e.event_id for e in statuses}) == 12  # every answered fact, exactly once in effect
        # in order: the charger timestamps of the unique facts appear in the order they were answered
        first_seen = list(dict.fromkeys(e.event_id for e in statuses))
        order = [next(e.occurred_at for e in statuses if e.event_id == i) for i in first_seen]
        assert order == sorted(order)
        assert sum(e.type == "station.heartbeat" for e in events) >= 3
        view = await read_topics(settings, ["transaction-evses"], until=lambda ev: len(ev) >= 1)
        assert [(e.type, e.payload.transaction_ref, e.payload.evse_id) for e in view] == [
            ("transaction.started", str(start.transaction_id), 2)]
        await station.close()
        app.settings.drain_seconds = 0
        await app.stop()
    finally:
        await asyncio.to_thread(broker.stop)


async def test_full_spool_answers_callerror(catalog, tmp_path):
    app = GatewayApp(gateway_settings(tmp_path, spool_max_bytes=1), catalog, health=False)
    await app.start()
    try:
        await app.sink.producer.stop()  # Kafka unreachable from this gateway
        app.sink.producer = None
        ws = await connect(f"ws://127.0.0.1:{app.server.port}/ocpp/{V16_STATION}", subprotocols=["ocpp1.6"],
                           additional_headers=basic(V16_STATION, KEYS[V16_STATION]))
        await ws.send('[2,"h1","Heartbeat",{}]')
        import json
        answer = json.loads(await ws.recv())
        assert answer[:3] == [4, "h1", "InternalError"]
        from services.gateway import metrics
        assert metrics.SPOOL_FULL._value.get() >= 1
        await ws.close()
    finally:
        app.settings.drain_seconds = 0
        await app.stop()
