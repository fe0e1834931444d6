"""commands Receiver end to end: the eMSP test app POSTs each OCPI command, a real gateway sends
it to a real `ocpp` 1.6 / 2.0.1 charge point, and the CommandResult arrives at response_url."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call as call16

from libs.events.control import CommandRequested
from libs.events.producer import EventProducer
from libs.events.sessions import SessionUpdated
from libs.events.station import TokenAuthorized
from services.ocpi.reservations import ocpp_reservation_id
from tests.integration.gateway.conftest import read_topics
from tests.integration.ocpi import harness as h
from tests.integration.ocpi_receiver.test_tokens import LONG_UID, token

pytestmark = pytest.mark.kafka


async def command(world, name: str, body: dict) -> tuple[dict, str]:
    url = world.emsp.response_url(name)
    resp = await world.emsp.call("POST", f"{world.endpoint('commands')}/{name}", {"response_url": url, **body})
    assert resp.status_code == 200, resp.text
    return resp.json(), url


async def accepted(world, name: str, body: dict) -> dict:
    """POST a command that the CPO accepts; returns the CommandResult posted to its response_url."""
    answer, url = await command(world, name, body)
    assert answer["status_code"] == 1000 and answer["data"] == {"result": "ACCEPTED", "timeout": 12}, answer
    return await world.emsp.result_for(url)


def calls(station, action: str) -> list[dict]:
    return [p for a, p in station.device.calls if a == action]


async def publish_session(world, session_id: str, station: str, tx: str, party=("NL", "EMS")) -> None:
    now = datetime.now(UTC)
    event = SessionUpdated.create(source="sessions", payload={
        "session_id": session_id, "version": 1, "station_id": station, "evse_id": 1, "connector_id": 1,
        "transaction_ref": tx, "country_code": "DE", "party_id": "VST", "location_id": "LOC-BER-01",
        "evse_uid": "BER01-AC001-1", "connector_uid": "1", "currency": "EUR",
        "cdr_token": {"uid": "04EMS0000001", "type": "RFID", "contract_id": "NL-EMS-C1",
                      "country_code": party[0], "party_id": party[1]},
        "start_date_time": now, "kwh": "0", "status": "ACTIVE", "last_updated": now})
    async with EventProducer(world.kafka) as producer:
        await producer.send(event)
    await h.until(lambda: world.ocpi.active_sessions.get(session_id) is not None)


async def test_every_command_reaches_the_charger_with_its_result_at_response_url(world):
    v16, v201 = world.v16, world.v201
    never = token("04REMOTE0001", whitelist="NEVER")  # the eMSP authorised it: no real-time check follows

    # START_SESSION on 1.6: RemoteStartTransaction, then the charger's Authorize for it is accepted
    result = await accepted(world, "START_SESSION", {
        "token": never, "location_id": "LOC-BER-01", "evse_uid": "BER01-AC001-1", "connector_id": "1",
        "authorization_reference": "REF-START-1"})
    assert result == {"result": "ACCEPTED"}
    assert calls(v16, "RemoteStartTransaction")[-1]["idTag"] == "04REMOTE0001"
    assert calls(v16, "RemoteStartTransaction")[-1]["connectorId"] == 1
    assert await v16.authorize("04REMOTE0001") == "Accepted"
    started = await v16.send(call16.StartTransaction(connector_id=1, id_tag="04REMOTE0001", meter_start=0,
                                                     timestamp=datetime.now(UTC).isoformat()))
    assert started.id_tag_info["status"] == "Accepted"
    assert not world.emsp.authorize_calls

    # START_SESSION on 2.0.1 with a long APP_USER uid
    app_user = token(LONG_UID, type_="APP_USER", whitelist="NEVER")
    result = await accepted(world, "START_SESSION", {"token": app_user, "location_id": "LOC-BER-01",
                                                     "evse_uid": "BER01-AC002-1"})
    assert result == {"result": "ACCEPTED"}
    request = calls(v201, "RequestStartTransaction")[-1]
    assert request["idToken"] == {"idToken": LONG_UID, "type": "Central"} and request["evseId"] == 1
    assert await v201.authorize(LONG_UID) == "Accepted"

    # the commands carry what the session service correlates on
    events = await read_topics(world.kafka, ["commands"], until=lambda ev: len(ev) >= 2)
    # the two stations' commands sit on different partitions: pick them by token, not by order
    starts = {e.payload.args["id_token"]: e.payload.args for e in events if isinstance(e, CommandRequested)}
    first = starts["04REMOTE0001"]
    assert first["authorization_reference"] == "REF-START-1" and first["evse_id"] == 1
    assert first["remote_start_id"] >= 1
    assert request["remoteStartId"] == starts[LONG_UID]["remote_start_id"]
    auths = await read_topics(world.kafka, ["station-events"],
                              until=lambda ev: sum(isinstance(e, TokenAuthorized) for e in ev) >= 3)
    remote = [e.payload for e in auths if isinstance(e, TokenAuthorized)]
    assert {(d.id_token, d.decided_by, d.authorization_reference) for d in remote} == {
        ("04REMOTE0001", "remote_start", "REF-START-1"), (LONG_UID, "remote_start", None)}

    # UNLOCK_CONNECTOR on 1.6
    result = await accepted(world, "UNLOCK_CONNECTOR", {"location_id": "LOC-BER-01", "evse_uid": "BER01-AC001-2",
                                                        "connector_id": "1"})
    assert result == {"result": "ACCEPTED"} and calls(v16, "UnlockConnector")[-1] == {"connectorId": 2}

    # RESERVE_NOW on 2.0.1: the charger gets our own reservation id, never the eMSP's; then cancel it
    expiry = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reserve = {"token": token("04EMS0000001"), "expiry_date": expiry, "reservation_id": "R-1",
               "location_id": "LOC-BER-01", "evse_uid": "BER01-AC002-1"}
    assert await accepted(world, "RESERVE_NOW", reserve) == {"result": "ACCEPTED"}
    ours = ocpp_reservation_id("NL/EMS", "R-1")
    assert calls(v201, "ReserveNow")[-1]["id"] == ours
    assert await accepted(world, "CANCEL_RESERVATION", {"reservation_id": "R-1"}) == {"result": "ACCEPTED"}
    assert calls(v201, "CancelReservation")[-1] == {"reservationId": ours}
    unknown = await accepted(world, "CANCEL_RESERVATION", {"reservation_id": "R-404"})
    assert unknown["result"] == "UNKNOWN_RESERVATION"

    # the charger's own refusals and silence
    v16.device.answers["ReserveNow"] = "Occupied"
    occupied = await accepted(world, "RESERVE_NOW", {**reserve, "reservation_id": "R-2", "evse_uid": "BER01-AC001-1"})
    assert occupied["result"] == "EVSE_OCCUPIED"
    v201.device.silent.add("UnlockConnector")
    silent = await accepted(world, "UNLOCK_CONNECTOR", {"location_id": "LOC-BER-01", "evse_uid": "BER01-AC002-1",
                                                        "connector_id": "1"})
    assert silent["result"] == "TIMEOUT"
    # an offline charge point (MUC-DC-001 never connected)
    offline = await accepted(world, "START_SESSION", {"token": never, "location_id": "LOC-MUC-01",
                                                      "evse_uid": "MUC01-DC001-1"})
    assert offline["result"] == "FAILED" and "offline" in offline["message"][0]["text"]

    # STOP_SESSION: a running session of this eMSP's customer reaches the charger
    await publish_session(world, "sess-ems-1", "BER-AC-001", str(started.transaction_id))
    stopped = await accepted(world, "STOP_SESSION", {"session_id": "sess-ems-1"})
    assert stopped == {"result": "ACCEPTED"}
    assert calls(v16, "RemoteStopTransaction")[-1] == {"transactionId": started.transaction_id}


async def test_commands_the_cpo_refuses_at_once(world):
    never = token("04REMOTE0001", whitelist="NEVER")
    # unknown location: 2003 with CommandResponse REJECTED (mod_commands "Unknown Location")
    answer, url = await command(world, "UNLOCK_CONNECTOR", {"location_id": "NOPE", "evse_uid": "X", "connector_id": "1"})
    assert answer["status_code"] == 2003 and answer["data"]["result"] == "REJECTED"
    answer, _ = await command(world, "START_SESSION", {"token": never, "location_id": "LOC-BER-01",
                                                       "evse_uid": "NO-SUCH-EVSE"})
    assert answer["status_code"] == 2003 and answer["data"]["result"] == "REJECTED"
    # a token of another eMSP
    answer, _ = await command(world, "START_SESSION", {"token": token("04XX", party=("DE", "VST")),
                                                       "location_id": "LOC-BER-01"})
    assert answer["status_code"] == 1000 and answer["data"]["result"] == "REJECTED"
    # sessions: unknown, and one of another eMSP's customers
    answer, _ = await command(world, "STOP_SESSION", {"session_id": "no-such-session"})
    assert answer["data"] == {"result": "UNKNOWN_SESSION", "timeout": 12,
                              "message": [{"language": "en", "text": "unknown session no-such-session"}]}
    await publish_session(world, "sess-other", "BER-AC-001", "77", party=("BE", "OTH"))
    answer, _ = await command(world, "STOP_SESSION", {"session_id": "sess-other"})
    assert answer["data"]["result"] == "REJECTED"
    # bad requests
    answer, _ = await command(world, "START_SESSION", {"location_id": "LOC-BER-01"})
    assert answer["status_code"] == 2001
    bad = await world.emsp.call("POST", f"{world.endpoint('commands')}/SELF_DESTRUCT", {"response_url": "http://x"})
    assert (bad.status_code, bad.json()["status_code"]) == (400, 2001)
    # none of these reached a charger or produced a result
    assert not world.emsp.results
    assert not [a for a, _ in world.v16.device.calls + world.v201.device.calls
                if a in ("UnlockConnector", "RequestStartTransaction", "RemoteStartTransaction", "RemoteStopTransaction")]
