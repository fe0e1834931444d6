"""Remote management end to end: real Kafka, a real gateway, real `ocpp` charge points of both
versions answering CSMS-initiated calls, commands through the commands library."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.commands.client import open_client
from libs.events.control import CommandKind as K
from libs.events.control import CommandOutcome, CommandRequest, CommandRequested, CommandResult
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import (
    KEYS,
    V16_STATION,
    V201_STATION,
    gateway_settings,
    read_topics,
    url,
)

pytestmark = pytest.mark.kafka

SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
PROFILE = {"id": 7, "purpose": "tx_default", "schedule": {"rate_unit": "A", "periods": [{"start": 0, "limit": 16.1}]}}

# kind, args, 1.6 action, 2.0.1 action, expected status (None: the message has no status; a pair: 1.6, 2.0.1)
CASES = [
    (K.REMOTE_START, {"id_token": "04A1B2C3D4E5F6", "evse_id": 1}, "RemoteStartTransaction", "RequestStartTransaction",
     "Accepted"),
    (K.REMOTE_STOP, {"transaction_id": "123"}, "RemoteStopTransaction", "RequestStopTransaction", "Accepted"),
    (K.RESET, {"hard": True}, "Reset", "Reset", "Accepted"),
    (K.UNLOCK_CONNECTOR, {"evse_id": 1}, "UnlockConnector", "UnlockConnector", "Unlocked"),
    (K.CHANGE_AVAILABILITY, {"operative": False, "evse_id": 1}, "ChangeAvailability", "ChangeAvailability",
     "Accepted"),
    (K.GET_CONFIGURATION, None, "GetConfiguration", "GetVariables", (None, "Accepted")),
    (K.SET_CONFIGURATION, None, "ChangeConfiguration", "SetVariables", "Accepted"),
    (K.GET_BASE_REPORT, {}, "GetConfiguration", "GetBaseReport", (None, "Accepted")),
    (K.CLEAR_CACHE, {}, "ClearCache", "ClearCache", "Accepted"),
    (K.TRIGGER_MESSAGE, {"message": "StatusNotification", "evse_id": 1}, "TriggerMessage", "TriggerMessage",
     "Accepted"),
    (K.UPDATE_FIRMWARE, {"location": "https://fw.example/v2.bin"}, "UpdateFirmware", "UpdateFirmware",
     (None, "Accepted")),
    (K.GET_DIAGNOSTICS, {"location": "ftp://logs.example/up"}, "GetDiagnostics", "GetLog", (None, "Accepted")),
    (K.RESERVE_NOW, {"id_token": "04A1B2C3D4E5F6", "expires": SOON, "evse_id": 1, "reservation_id": 42},
     "ReserveNow", "ReserveNow", "Accepted"),
    (K.CANCEL_RESERVATION, {"reservation_id": 42}, "CancelReservation", "CancelReservation", "Accepted"),
    (K.SET_CHARGING_PROFILE, {"evse_id": 1, "profile": PROFILE}, "SetChargingProfile", "SetChargingProfile",
     "Accepted"),
    (K.GET_COMPOSITE_SCHEDULE, {"evse_id": 1, "duration": 600}, "GetCompositeSchedule", "GetCompositeSchedule",
     "Accepted"),
    (K.CLEAR_CHARGING_PROFILE, {"profile_id": 7}, "ClearChargingProfile", "ClearChargingProfile", "Accepted"),
    (K.GET_LOCAL_LIST_VERSION, {}, "GetLocalListVersion", "GetLocalListVersion", None),
    (K.SEND_LOCAL_LIST, {"full": True}, "SendLocalList", "SendLocalList", "Accepted"),
    (K.DATA_TRANSFER, {"vendor_id": "com.voltstream", "message_id": "ping", "data": "hello"}, "DataTransfer",
     "DataTransfer", "Accepted"),
]
CONFIG = {  # per version: GET_CONFIGURATION / SET_CONFIGURATION args
    "ocpp1.6": ({"keys": ["HeartbeatInterval"]}, {"key": "HeartbeatInterval", "value": "120"}),
    "ocpp2.0.1": ({"keys": ["OCPPCommCtrlr.HeartbeatInterval"]},
                  {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"}),
}


async def connect(app: GatewayApp, cls, station_id: str):
    station = cls(station_id, url(app, station_id).rsplit("/", 1)[0], key=KEYS[station_id])
    await station.connect()
    await station.boot()
    return station


async def wait_online(client, *stations: str) -> None:
    async with asyncio.timeout(30):
        while not all(client.presence.is_online(s) for s in stations):
            await asyncio.sleep(0.05)


async def wait_offline(client, station: str) -> None:
    async with asyncio.timeout(30):
        while client.presence.is_online(station):
            await asyncio.sleep(0.05)


async def test_every_command_round_trips_on_both_versions(catalog, tmp_path):
    app = GatewayApp(gateway_settings(tmp_path, call_timeout=5.0, local_list_sync=False), catalog, health=False)
    await app.start()
    v16 = await connect(app, V16Station, V16_STATION)
    v201 = await connect(app, V201Station, V201_STATION)
    try:
        async with open_client(catalog) as client:
            await wait_online(client, V16_STATION, V201_STATION)
            for station in (v16, v201):
                get_args, set_args = CONFIG[station.protocol]
                for kind, args, action16, action201, status in CASES:
                    args = get_args if kind == K.GET_CONFIGURATION else set_args if kind == K.SET_CONFIGURATION \
                        else args
                    before = len(station.device.calls)
                    answer = await client.send(station.station_id, kind, args, timeout_s=20,
                                               reply_context={"requester": "test", "kind": kind.value})
                    is16 = station.protocol == "ocpp1.6"
                    expected_action = action16 if is16 else action201
                    if isinstance(status, tuple):
                        status = status[0 if is16 else 1]
                    assert answer.outcome == CommandOutcome.ANSWERED, (station.protocol, kind, answer)
                    assert answer.reply_context == {"requester": "test", "kind": kind.value}
                    assert answer.status == status, (station.protocol, kind, answer)
                    assert expected_action in [a for a, _ in station.device.calls[before:]], (kind, station.protocol)

            # the charger's data comes back in the answer
            cfg16 = await client.send(V16_STATION, K.GET_CONFIGURATION, {"keys": ["HeartbeatInterval", "Nope"]})
            assert cfg16.response["configurationKey"][0] == {"key": "HeartbeatInterval", "readonly": False,
                                                             "value": "120"}
            assert cfg16.response["unknownKey"] == ["Nope"]
            cfg201 = await client.send(V201_STATION, K.GET_CONFIGURATION, {"keys": ["OCPPCommCtrlr.HeartbeatInterval"]})
            assert cfg201.response["getVariableResult"][0]["attributeValue"] == "120"
            soft16 = await client.send(V16_STATION, K.RESET, {})
            soft201 = await client.send(V201_STATION, K.RESET, {})
            assert v16.device.calls[-1] == ("Reset", {"type": "Soft"})
            assert v201.device.calls[-1] == ("Reset", {"type": "OnIdle"})
            assert soft16.status == soft201.status == "Accepted"
            long_uid = "vst-app-user-0000000000000000000042"
            await client.send(V16_STATION, K.REMOTE_START, {"id_token": long_uid})
            assert len(v16.device.calls[-1][1]["idTag"]) <= 20  # the short alias
            await client.send(V201_STATION, K.REMOTE_START, {"id_token": long_uid, "remote_start_id": 9})
            assert v201.device.calls[-1][1]["idToken"] == {"idToken": long_uid, "type": "Central"}
            assert v201.device.calls[-1][1]["remoteStartId"] == 9

            # a charger's refusal and CALLERROR come back as such
            v16.device.answers["Reset"] = "Rejected"
            assert (await client.send(V16_STATION, K.RESET, {})).status == "Rejected"
            bad_reservation = await client.send(V201_STATION, K.CANCEL_RESERVATION, {"reservation_id": 999})
            assert bad_reservation.status == "Rejected"

            # bad arguments: rejected by the gateway with a clear error, nothing sent, gateway alive
            calls = len(v16.device.calls), len(v201.device.calls)
            for station_id, kind, args, fragment in [
                (V16_STATION, K.RESET, {"hard": "very"}, "hard"),
                (V16_STATION, K.UNLOCK_CONNECTOR, {}, "evse_id"),
                (V16_STATION, K.REMOTE_STOP, {"transaction_id": "abc"}, "integer"),
                (V16_STATION, K.TRIGGER_MESSAGE, {"message": "TransactionEvent"}, "cannot trigger"),
                (V201_STATION, K.GET_CONFIGURATION, {"keys": ["NoDot"]}, "Component.Variable"),
                (V201_STATION, K.SET_CONFIGURATION, {"key": "SecurityCtrlr.BasicAuthPassword", "value": "x" * 20},
                 "rotate_key"),
                (V16_STATION, K.SET_CONFIGURATION, {"key": "AuthorizationKey", "value": "x" * 20}, "rotate_key"),
                (V201_STATION, K.RESET, {"unknown": 1}, "unknown"),
                (V201_STATION, K.DATA_TRANSFER, {"vendor_id": "v" * 300}, "vendor_id"),
            ]:
                answer = await client.send(station_id, kind, args, timeout_s=20)
                assert answer.outcome == CommandOutcome.REJECTED_BY_GATEWAY, (kind, answer)
                assert fragment.lower() in (answer.error or "").lower(), answer.error
            assert (len(v16.device.calls), len(v201.device.calls)) == calls

            # a charger that never answers: charger_timeout, before the requester's own timeout
            v201.device.silent.add("ClearCache")
            silent = await client.send(V201_STATION, K.CLEAR_CACHE, {}, timeout_s=4)
            assert silent.outcome == CommandOutcome.CHARGER_TIMEOUT
            assert v201.device.calls[-1][0] == "ClearCache"

            # an offline station: station_offline at once, nothing sent
            await v16.close()
            await wait_offline(client, V16_STATION)
            offline = await client.send(V16_STATION, K.RESET, {}, timeout_s=20)
            assert offline.outcome == CommandOutcome.STATION_OFFLINE
    finally:
        await v16.close()
        await v201.close()
        app.settings.drain_seconds = 0
        await app.stop()


async def publish_command(producer: EventProducer, station_id: str, kind: K, args: dict, *,
                          expires_in: float = 60) -> str:
    now = datetime.now(UTC)
    command_id = str(uuid.uuid4())
    await producer.send(CommandRequested.create(
        payload=CommandRequest(command_id=command_id, kind=kind, args=args, expires_at=now + timedelta(seconds=expires_in)),
        source=Source.OPERATOR, station_id=station_id, occurred_at=now, received_at=now))
    return command_id


async def test_replicas_restart_duplicates_and_expiry(catalog, tmp_path):
    """Two replicas: a command reaches the one holding the station, once. A restarted gateway
    never replays old commands; duplicate and expired commands are dropped."""
    a = GatewayApp(gateway_settings(tmp_path / "a", local_list_sync=False), catalog, health=False)
    b = GatewayApp(gateway_settings(tmp_path / "b", local_list_sync=False), catalog, health=False)
    await a.start()
    await b.start()
    v16 = await connect(a, V16Station, V16_STATION)
    v201 = await connect(b, V201Station, V201_STATION)
    a2 = None
    try:
        async with open_client(catalog) as client, EventProducer(catalog) as producer:
            await wait_online(client, V16_STATION, V201_STATION)
            r16 = await client.send(V16_STATION, K.RESET, {"hard": True}, timeout_s=20)
            r201 = await client.send(V201_STATION, K.RESET, {"hard": True}, timeout_s=20)
            assert r16.status == r201.status == "Accepted"
            # a re-delivered command (same id) and an expired one are dropped
            dup = await publish_command(producer, V16_STATION, K.CLEAR_CACHE, {})
            await asyncio.sleep(0)
            again = CommandRequested.create(
                payload=CommandRequest(command_id=dup, kind=K.CLEAR_CACHE, expires_at=datetime.now(UTC) + timedelta(minutes=1)),
                source=Source.OPERATOR, station_id=V16_STATION, occurred_at=datetime.now(UTC))
            await producer.send(again)
            expired = await publish_command(producer, V16_STATION, K.UNLOCK_CONNECTOR, {"evse_id": 1}, expires_in=-1)
            marker = await client.send(V16_STATION, K.TRIGGER_MESSAGE, {"message": "Heartbeat"}, timeout_s=20)
            assert marker.status == "Accepted"  # commands of one station run in arrival order: all seen by now

            # restart replica A; a command published while it is down is old for the new process
            await v16.close()
            a.settings.drain_seconds = 0
            await a.stop()
            while_down = await publish_command(producer, V16_STATION, K.CHANGE_AVAILABILITY, {"operative": False})
            a2 = GatewayApp(gateway_settings(tmp_path / "a", instance_id=a.settings.instance_id,
                                             local_list_sync=False), catalog, health=False)
            await a2.start()
            v16.url = url(a2, V16_STATION).rsplit("/", 1)[0]
            await v16.connect()
            async with asyncio.timeout(30):
                while a2.registry.get(V16_STATION) is None:
                    await asyncio.sleep(0.05)
                held = a2.registry.get(V16_STATION).connection_id
                while not (client.presence.is_online(V16_STATION)
                           and client.presence.presence(V16_STATION).connection_id == held):
                    await asyncio.sleep(0.05)
            after = await client.send(V16_STATION, K.GET_LOCAL_LIST_VERSION, {}, timeout_s=20)
            assert after.outcome == CommandOutcome.ANSWERED and after.response == {"listVersion": 0}

            actions16 = v16.device.actions()
            assert actions16.count("Reset") == 1
            assert actions16.count("ClearCache") == 1  # the duplicate was dropped
            assert "UnlockConnector" not in actions16  # expired
            assert "ChangeAvailability" not in actions16  # published while the gateway was down: never replayed
            assert v201.device.actions().count("Reset") == 1

            ids = {r16.command_id, r201.command_id, dup, expired, while_down, after.command_id}
            events = await read_topics(catalog, ["command-results"],
                                       until=lambda ev: {e.payload.command_id for e in ev} >= {after.command_id})
            results = [e for e in events if isinstance(e, CommandResult) and e.payload.command_id in ids]
            counts = {i: sum(1 for e in results if e.payload.command_id == i) for i in ids}
            assert counts == {r16.command_id: 1, r201.command_id: 1, dup: 1, expired: 0, while_down: 0,
                              after.command_id: 1}
    finally:
        await v16.close()
        await v201.close()
        for app in (a2, b):
            if app is not None:
                app.settings.drain_seconds = 0
                await app.stop()
