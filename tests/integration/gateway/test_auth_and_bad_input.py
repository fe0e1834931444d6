"""Basic auth before the upgrade, subprotocols, and every bad-input class with each version's
CALLERROR codes (the connection stays up and answers afterwards)."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import KEYS, V16_STATION, V201_STATION, basic, gateway_settings

pytestmark = pytest.mark.kafka


def ws_url(app, station):
    return f"ws://127.0.0.1:{app.server.port}/ocpp/{station}"


async def test_basic_auth_accept_and_reject(gateway):
    async with connect(ws_url(gateway, V16_STATION), subprotocols=["ocpp1.6"],
                       additional_headers=basic(V16_STATION, KEYS[V16_STATION])) as ws:
        assert ws.subprotocol == "ocpp1.6"
    cases = [
        (V16_STATION, basic(V16_STATION, "wrong-key-000000000000")),  # bad key
        (V16_STATION, {}),  # no credentials
        ("NO-SUCH-STATION", basic("NO-SUCH-STATION", KEYS[V16_STATION])),  # unknown station
        # a valid key used under another station's id (username = the other station)
        (V16_STATION, basic("MUC-DC-002", KEYS["MUC-DC-002"])),
        # the other station's own valid credentials against this station's path
        (V16_STATION, basic(V16_STATION, KEYS["MUC-DC-002"])),
    ]
    for station, headers in cases:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(gateway, station), subprotocols=["ocpp1.6"], additional_headers=headers):
                pass
        assert info.value.response.status_code == 401, (station, headers)
        assert "Basic" in info.value.response.headers["WWW-Authenticate"]
    # two Authorization headers (one of them valid): refused cleanly, not a server error
    twice = [*basic(V16_STATION, KEYS[V16_STATION]).items(), *basic(V16_STATION, "wrong-key-000000000000").items()]
    with pytest.raises(InvalidStatus) as info:
        async with connect(ws_url(gateway, V16_STATION), subprotocols=["ocpp1.6"], additional_headers=twice):
            pass
    assert (info.value.response.status_code, info.value.response.body) == (400, b"repeated_header\n")


async def test_subprotocol_negotiation(gateway):
    async with connect(ws_url(gateway, V201_STATION), subprotocols=["ocpp2.1", "ocpp2.0.1", "ocpp1.6"],
                       additional_headers=basic(V201_STATION, KEYS[V201_STATION])) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    for offered in (["ocpp2.1"], None):
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(gateway, V201_STATION), subprotocols=offered,
                               additional_headers=basic(V201_STATION, KEYS[V201_STATION])):
                pass
        assert info.value.response.status_code == 400


async def test_auth_off_unknown_station_boot_policy(catalog, tmp_path):
    for policy in ("Pending", "Rejected"):
        app = GatewayApp(gateway_settings(tmp_path, auth=False, unknown_station_boot=policy), catalog, health=False)
        await app.start()
        try:
            async with connect(ws_url(app, "DEV-1"), subprotocols=["ocpp1.6"]) as ws:
                await ws.send(json.dumps([2, "b1", "BootNotification",
                                          {"chargePointVendor": "V", "chargePointModel": "M"}]))
                answer = json.loads(await ws.recv())
                assert answer[0] == 3 and answer[2]["status"] == policy
                await ws.send(json.dumps([2, "h1", "Heartbeat", {}]))
                answer = json.loads(await ws.recv())
                if policy == "Rejected":
                    assert answer[:3] == [4, "h1", "SecurityError"]
                else:
                    assert answer[0] == 3
        finally:
            app.settings.drain_seconds = 0
            await app.stop()


BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}
BOOT201 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}

# (raw frame, expected 1.6 answer prefix, expected 2.0.1 answer prefix); payloads are per version
CASES = [
    ("not json", "{not json", [4, "-1", "FormationViolation"], [4, "-1", "RpcFrameworkError"]),
    ("not an array", '{"a": 1}', [4, "-1", "FormationViolation"], [4, "-1", "RpcFrameworkError"]),
    ("id unreadable", "[2, 17, \"Heartbeat\", {}]", [4, "-1", "FormationViolation"], [4, "-1", "RpcFrameworkError"]),
    ("message type", '[7, "m1", "Heartbeat", {}]', [4, "m1", "FormationViolation"], [4, "m1", "MessageTypeNotSupported"]),
    ("payload missing", '[2, "m2", "Heartbeat"]', [4, "m2", "ProtocolError"], [4, "m2", "ProtocolError"]),
    ("unknown action", '[2, "m3", "MakeCoffee", {}]', [4, "m3", "NotImplemented"], [4, "m3", "NotImplemented"]),
    ("CSMS-only action", '[2, "m4", "Reset", {"type": "Hard"}]', [4, "m4", "NotSupported"], [4, "m4", "NotSupported"]),
]
SCHEMA_CASES = {
    # fault: (1.6 frame, 1.6 code, 2.0.1 frame, 2.0.1 code)
    "missing": ('[2,"s1","BootNotification",{"chargePointVendor":"V"}]', "OccurenceConstraintViolation",
                '[2,"s1","BootNotification",{"reason":"PowerUp"}]', "OccurrenceConstraintViolation"),
    "type": ('[2,"s2","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]',
             "TypeConstraintViolation",
             '[2,"s2","Heartbeat",{"customData":5}]', "TypeConstraintViolation"),
    "value": ('[2,"s3","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]',
              "PropertyConstraintViolation",
              '[2,"s3","BootNotification",{"chargingStation":{"model":"M","vendorName":"V"},"reason":"Bored"}]',
              "PropertyConstraintViolation"),
    "extra": ('[2,"s4","Heartbeat",{"extra":1}]', "FormationViolation",
              '[2,"s4","Heartbeat",{"extra":1}]', "FormatViolation"),
    "bad time": ('[2,"s5","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"yesterday"}]',
                 "TypeConstraintViolation",
                 '[2,"s5","SecurityEventNotification",{"type":"X","timestamp":"yesterday"}]', "TypeConstraintViolation"),
}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_every_bad_input_class_gets_the_versions_callerror(gateway, protocol):
    station = V16_STATION if protocol == "ocpp1.6" else V201_STATION
    boot = BOOT16 if protocol == "ocpp1.6" else BOOT201
    async with connect(ws_url(gateway, station), subprotocols=[protocol], max_size=None,
                       additional_headers=basic(station, KEYS[station])) as ws:
        async def exchange(frame: str) -> list:
            await ws.send(frame)
            return json.loads(await ws.recv())

        for name, frame, v16, v201 in CASES:
            answer = await exchange(frame)
            assert answer[:3] == (v16 if protocol == "ocpp1.6" else v201), name
            assert len(answer) == 5 and isinstance(answer[3], str) and isinstance(answer[4], dict)
        for name, (f16, c16, f201, c201) in SCHEMA_CASES.items():
            frame, code = (f16, c16) if protocol == "ocpp1.6" else (f201, c201)
            answer = await exchange(frame)
            assert answer[0] == 4 and answer[1] == json.loads(frame)[1] and answer[2] == code, (name, answer)
        # above the application limit (64 KiB): CALLERROR with the readable id, connection stays up
        big = json.dumps([2, "big1", "DataTransfer", {"vendorId": "x", "data": "a" * 70_000}])
        answer = await exchange(big)
        assert answer[:3] == [4, "big1", "FormationViolation" if protocol == "ocpp1.6" else "FormatViolation"]
        # a stray CALLRESULT for nothing we asked is ignored (no answer to an answer)
        await ws.send('[3, "nobody-asked", {}]')
        # still serving
        answer = await exchange(json.dumps([2, "ok", "BootNotification", boot]))
        assert answer[:2] == [3, "ok"] and answer[2]["status"] == "Accepted"
        # above the transport limit: the socket closes with 1009
        await ws.send("[" + " " * (1024 * 1024 + 10) + "]")
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        assert ws.close_code == 1009


async def test_rate_limit_answers_generic_error_and_keeps_connection(catalog, tmp_path):
    app = GatewayApp(gateway_settings(tmp_path, rate_limit_per_second=1, rate_limit_burst=3), catalog, health=False)
    await app.start()
    try:
        async with connect(ws_url(app, V16_STATION), subprotocols=["ocpp1.6"],
                           additional_headers=basic(V16_STATION, KEYS[V16_STATION])) as ws:
            codes = []
            for i in range(5):
                await ws.send(json.dumps([2, f"h{i}", "Heartbeat", {}]))
                answer = json.loads(await ws.recv())
                codes.append(answer[0] if answer[0] == 3 else answer[2])
            assert codes == [3, 3, 3, "GenericError", "GenericError"]
    finally:
        app.settings.drain_seconds = 0
        await app.stop()


async def test_second_connection_replaces_the_first(gateway):
    headers = basic(V16_STATION, KEYS[V16_STATION])
    async with connect(ws_url(gateway, V16_STATION), subprotocols=["ocpp1.6"], additional_headers=headers) as first:
        async with connect(ws_url(gateway, V16_STATION), subprotocols=["ocpp1.6"], additional_headers=headers) as second:
            await first.wait_closed()
            assert first.close_code == 1000 and "replaced" in first.close_reason
            assert len(gateway.registry) == 1
            await second.send('[2,"h","Heartbeat",{}]')
            assert json.loads(await second.recv())[0] == 3
