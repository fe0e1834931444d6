"""START_SESSION to CDR (issue 9, last "Done when"): the eMSP test app POSTs START_SESSION with an
authorization_reference, a real `ocpp` 1.6 / 2.0.1 charge point is remote-started through the real
gateway, authorises the token (accepted because of the command), charges and stops; the session
service (a real faust worker) and billing turn that into a final session and a CDR, and the OCPI
adapter serves and pushes both to the eMSP carrying the authorization_reference, auth_method
COMMAND and the START_SESSION token as cdr_token."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from libs.catalog.index import short_alias
from libs.ocpi.types import format_datetime
from libs.simulator.chargers import MeterReading, iso
from tests.integration.ocpi import harness as h
from tests.integration.ocpi_receiver.test_commands import accepted, calls
from tests.integration.ocpi_receiver.test_tokens import LONG_UID, put, token
from tests.integration.sessions.harness import SessionsReader

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Case:
    protocol: str
    uid: str
    type_: str
    evse_uid: str
    reference: str
    pushed: bool = True  # the eMSP pushed the token (tokens module) before the START_SESSION


RFID_16 = Case("1.6", "04RS16000001", "RFID", "BER01-AC001-1", "REF-16-START")
APP_201 = Case("2.0.1", LONG_UID, "APP_USER", "BER01-AC002-1", "REF-201-START")
CASES = [
    pytest.param(RFID_16, id="1.6"),
    pytest.param(APP_201, id="2.0.1"),
    # a 1.6 charger knows a 36-character uid only by its 20-character alias
    pytest.param(Case("1.6", LONG_UID, "APP_USER", "BER01-AC001-1", "REF-16-LONG"), id="1.6-long-uid"),
    # the eMSP never pushed the token: it is only in the START_SESSION (whose args carry its CdrToken)
    pytest.param(Case("2.0.1", "04RS20100002", "RFID", "BER01-AC002-1", "REF-201-ONLY", pushed=False),
                 id="2.0.1-token-only-in-start-session"),
]


async def charge_v16(world, case: Case) -> None:
    """What a 1.6 charger does after RemoteStartTransaction: Authorize, StartTransaction, meter
    values, StopTransaction."""
    v16 = world.v16
    tag = short_alias(case.uid)
    request = calls(v16, "RemoteStartTransaction")[-1]
    assert request == {"idTag": tag, "connectorId": 1}
    assert await v16.authorize(tag) == "Accepted"
    await v16.status(1, "Preparing")
    started = await v16.send(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000, timestamp=iso()))
    assert started.id_tag_info["status"] == "Accepted"
    tx = str(started.transaction_id)
    await v16.status(1, "Charging")
    for wh in (1500, 2500, 3500):
        await v16.meter(1, tx, MeterReading(energy_wh=wh, power_w=11000, current_a=16))
    stopped = await v16.stop(1, tx, tag, 4000, reason="Remote")
    assert stopped.id_tag_info["status"] == "Accepted"
    await v16.status(1, "Available")


async def charge_v201(world, case: Case) -> None:
    """What a 2.0.1 charger does after RequestStartTransaction: Authorize (AuthorizeRemoteStart),
    TransactionEvent Started with the remoteStartId, Updated with meter values, Ended."""
    v201 = world.v201
    request = calls(v201, "RequestStartTransaction")[-1]
    kind = {"RFID": "ISO14443", "APP_USER": "Central"}[case.type_]
    assert request["idToken"] == {"idToken": case.uid, "type": kind} and request["evseId"] == 1
    id_token = {"id_token": case.uid, "type": kind}
    assert (await v201.send(call201.Authorize(id_token=id_token))).id_token_info["status"] == "Accepted"
    tx, seq = f"RS-{time.time_ns()}", itertools.count()

    async def event(event_type: str, trigger: str, state: str, wh: float, kw: float, context: str, **extra):
        info = {"transaction_id": tx, "charging_state": state, **extra.pop("info", {})}
        return await v201.send(call201.TransactionEvent(
            event_type=event_type, timestamp=iso(), trigger_reason=trigger, seq_no=next(seq), transaction_info=info,
            meter_value=[{"timestamp": iso(), "sampled_value": [
                {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register",
                 "unit_of_measure": {"unit": "Wh"}},
                {"value": kw, "context": context, "measurand": "Power.Active.Import",
                 "unit_of_measure": {"unit": "kW"}}]}], **extra))

    started = await event("Started", "RemoteStart", "EVConnected", 2000, 0, "Transaction.Begin",
                          info={"remote_start_id": request["remoteStartId"]}, id_token=id_token,
                          evse={"id": 1, "connector_id": 1})
    assert started.id_token_info["status"] == "Accepted"
    for wh in (2600, 3800, 4500):
        await event("Updated", "MeterValuePeriodic", "Charging", wh, 11, "Sample.Periodic")
    await event("Ended", "RemoteStop", "EVConnected", 5000, 0, "Transaction.End", info={"stopped_reason": "Remote"})


def merged(pushes: list) -> dict:
    """The object the eMSP holds after a PUT and its PATCHes."""
    doc: dict = {}
    for p in pushes:
        doc = p.body if p.method == "PUT" else {**doc, **p.body}
    return doc


@pytest.mark.parametrize("case", CASES)
async def test_start_session_ends_in_a_session_and_a_cdr_with_the_authorization_reference(settlement, world,
                                                                                          case: Case):
    emsp = world.emsp
    # whitelist NEVER: the charger's Authorize is accepted only because of the START_SESSION
    # (otherwise the eMSP would be asked in real time, and nobody else accepts it)
    start_token = token(case.uid, whitelist="NEVER", type_=case.type_)
    if case.pushed:
        await put(world, case.uid, whitelist="NEVER", type_=case.type_)
        await h.until(lambda: world.gateway.index.token(case.uid) is not None)
    await settlement.ready()

    result = await accepted(world, "START_SESSION", {
        "token": start_token, "location_id": "LOC-BER-01", "evse_uid": case.evse_uid, "connector_id": "1",
        "authorization_reference": case.reference})
    assert result == {"result": "ACCEPTED"}
    await (charge_v16 if case.protocol == "1.6" else charge_v201)(world, case)
    assert not emsp.authorize_calls

    cdr_token = {k: start_token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
    expected = {"cdr_token": cdr_token, "auth_method": "COMMAND", "authorization_reference": case.reference}

    # the final session on the sessions topic (what billing prices)
    async with SessionsReader(world.kafka) as reader:
        latest = await reader.wait_for(lambda found: any(s.final for s in found.values()),
                                       worker=settlement.sessions, what="a final session")
    [final] = latest.values()
    assert (final.auth_method, final.authorization_reference) == ("COMMAND", case.reference)
    assert final.cdr_token.model_dump(exclude_none=True) == cdr_token

    # the CDR billing issued for the final session; once it is served, the read model holds
    # everything produced so far and the pusher has delivered it
    [cdr] = await h.until(lambda: _data(emsp, "cdrs"))
    await h.settled(world.ocpi)
    await h.drained(world.ocpi)

    # the sessions module: pulled by the eMSP, and pushed to its sessions endpoint
    [session] = await _data(emsp, "sessions")
    assert session["id"] == final.session_id and session["status"] == "COMPLETED"
    assert session["last_updated"] == format_datetime(final.last_updated)  # the final version
    assert {k: session.get(k) for k in expected} == expected, session
    assert (session["location_id"], session["evse_uid"], session["connector_id"], session["kwh"]) == (
        "LOC-BER-01", case.evse_uid, "1", 3)
    pushes = [r for r in emsp.received if "/sessions/" in r.path]
    assert pushes[0].method == "PUT" and pushes[0].path.endswith(f"/sessions/DE/VST/{session['id']}")
    assert {k: pushes[0].body.get(k) for k in expected} == expected  # from the first push on
    assert merged(pushes) == session  # the pushes add up to what is served

    # the CDR: pulled and pushed, with the same reference and token
    assert cdr["session_id"] == session["id"]
    assert {k: cdr.get(k) for k in expected} == expected, cdr
    assert cdr["cdr_location"]["evse_uid"] == case.evse_uid and cdr["total_energy"] == 3
    assert cdr["total_cost"] == {"excl_vat": 1.17, "incl_vat": 1.3923}  # 3 kWh x 0.39, 19 % VAT
    assert [r.body for r in emsp.received if r.method == "POST" and r.path.endswith("/cdrs")] == [cdr]


async def _data(emsp, module: str) -> list[dict]:
    return (await emsp.get(emsp.endpoint(module))).json()["data"]
