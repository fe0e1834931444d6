"""Tokens Receiver and authorisation at real chargers: the eMSP test app pushes tokens over HTTP,
they reach the gateway through Kafka, real `ocpp` 1.6 and 2.0.1 charge points present them;
real-time authorisation is answered by the eMSP — or not in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from libs.catalog.index import short_alias
from libs.events.reference import TokenPublished
from libs.events.station import TokenAuthorized
from tests.integration.gateway.conftest import read_topics
from tests.integration.ocpi import harness as h
from tests.integration.ocpi_receiver.conftest import REALTIME_TIMEOUT

pytestmark = pytest.mark.kafka
LONG_UID = "emsp-app-user-0000000000000000000007"  # 36 characters: a 1.6 charger sees its short alias


def stamp(minutes: int = 0) -> str:
    return (datetime(2026, 1, 10, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def token(uid: str, *, whitelist="ALWAYS", valid=True, type_="RFID", party=("NL", "EMS"), minutes=0) -> dict:
    return {"country_code": party[0], "party_id": party[1], "uid": uid, "type": type_,
            "contract_id": f"NL-EMS-{uid[-6:]}", "issuer": "Test eMSP", "valid": valid, "whitelist": whitelist,
            "last_updated": stamp(minutes)}


def token_url(world, uid: str, party=("NL", "EMS"), type_: str | None = None) -> str:
    url = f"{world.endpoint('tokens')}/{party[0]}/{party[1]}/{uid}"
    return url + (f"?type={type_}" if type_ else "")


async def put(world, uid: str, **kw):
    type_ = kw.get("type_")
    resp = await world.emsp.call("PUT", token_url(world, uid, type_=type_ if type_ != "RFID" else None),
                                 token(uid, **kw))
    assert resp.status_code == 200 and resp.json()["status_code"] == 1000, resp.text
    return resp


async def decisions(world, n: int) -> list:
    events = await read_topics(world.kafka, ["station-events"],
                               until=lambda ev: sum(isinstance(e, TokenAuthorized) for e in ev) >= n)
    return [e.payload for e in events if isinstance(e, TokenAuthorized)]


async def test_tokens_receiver_push_then_charge_and_block(world):
    emsp = world.emsp
    await put(world, "04EMS0000001")
    await put(world, LONG_UID, type_="APP_USER")

    # GET returns what was stored; the type query defaults to RFID
    got = await emsp.call("GET", token_url(world, "04EMS0000001"))
    assert got.status_code == 200 and got.json()["data"] == token("04EMS0000001"), got.text
    missing = await emsp.call("GET", token_url(world, "04EMS0000001", type_="APP_USER"))
    assert (missing.status_code, missing.json()["status_code"]) == (404, 2004)
    assert (await emsp.call("GET", token_url(world, LONG_UID, type_="APP_USER"))).json()["data"]["uid"] == LONG_UID

    # only tokens of the eMSP's own roles: another party's URL is 401
    foreign = await emsp.call("PUT", token_url(world, "04XX", party=("DE", "VST")),
                              token("04XX", party=("DE", "VST")))
    assert foreign.status_code == 401 and foreign.json()["status_code"] == 2000
    assert (await emsp.call("GET", token_url(world, "04A1B2C3D4E5F6", party=("DE", "VST")))).status_code == 401
    # the body must be the token of the URL; not JSON is 400; PATCH needs last_updated
    other = await emsp.call("PUT", token_url(world, "04EMS0000009"), token("04EMS0000008"))
    assert (other.status_code, other.json()["status_code"]) == (200, 2001)
    assert (await emsp.call("PUT", token_url(world, "04EMS0000009"), content=b"{not json")).status_code == 400
    no_stamp = await emsp.call("PATCH", token_url(world, "04EMS0000001"), {"valid": False})
    assert (no_stamp.status_code, no_stamp.json()["status_code"]) == (200, 2001)
    unknown = await emsp.call("PATCH", token_url(world, "04NOPE"), {"valid": False, "last_updated": stamp(1)})
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2004)
    bad_type = await emsp.call("GET", token_url(world, "04EMS0000001", type_="CARD"))
    assert (bad_type.status_code, bad_type.json()["status_code"]) == (400, 2001)

    # on the tokens topic, keyed (country, party, uid, type), owned by the partner connection
    records = await read_topics(world.kafka, ["tokens"], until=lambda ev: sum(
        isinstance(e, TokenPublished) and e.payload.owner.startswith("partner:") for e in ev) >= 2)
    ours = {e.payload.record_key: e.payload.owner for e in records if e.payload.owner.startswith("partner:")}
    assert ours == {"NL/EMS/04EMS0000001/RFID": f"partner:{world.partner_id}",
                    f"NL/EMS/{LONG_UID}/APP_USER": f"partner:{world.partner_id}"}

    # charge with it: 1.6 Authorize + StartTransaction, 2.0.1 Authorize; the long uid by its alias on 1.6
    await h.until(lambda: world.gateway.index.token("04EMS0000001") is not None)
    await h.until(lambda: world.gateway.index.token(LONG_UID) is not None)
    assert await world.v16.authorize("04EMS0000001") == "Accepted"
    started = await world.v16.send(call16.StartTransaction(connector_id=1, id_tag="04EMS0000001", meter_start=0,
                                                           timestamp=stamp()))
    assert started.id_tag_info["status"] == "Accepted"
    assert await world.v201.authorize("04EMS0000001") == "Accepted"
    assert await world.v16.authorize(short_alias(LONG_UID)) == "Accepted"
    assert await world.v201.authorize(LONG_UID) == "Accepted"

    # the eMSP blocks the token (PATCH valid=false): refused at both chargers
    blocked = await emsp.call("PATCH", token_url(world, "04EMS0000001"), {"valid": False, "last_updated": stamp(5)})
    assert blocked.json()["status_code"] == 1000
    assert (await emsp.call("GET", token_url(world, "04EMS0000001"))).json()["data"]["valid"] is False
    await h.until(lambda: not world.gateway.index.token("04EMS0000001").valid)
    assert await world.v16.authorize("04EMS0000001") == "Blocked"
    assert await world.v201.authorize("04EMS0000001") == "Blocked"
    # an older PUT does not bring it back
    await put(world, "04EMS0000001", minutes=1)
    assert (await emsp.call("GET", token_url(world, "04EMS0000001"))).json()["data"]["valid"] is False

    found = await decisions(world, 7)  # every decision is an event
    assert sorted((d.id_token, d.status, d.decided_by) for d in found) == sorted([
        ("04EMS0000001", "Accepted", "index"), ("04EMS0000001", "Accepted", "index"),
        ("04EMS0000001", "Accepted", "index"), (short_alias(LONG_UID), "Accepted", "index"),
        (LONG_UID, "Accepted", "index"), ("04EMS0000001", "Blocked", "index"), ("04EMS0000001", "Blocked", "index")])
    assert {d.token_key for d in found if d.id_token == short_alias(LONG_UID)} == {f"NL/EMS/{LONG_UID}/APP_USER"}
    assert not world.emsp.authorize_calls  # ALWAYS: never asked in real time


async def test_realtime_authorisation_answered_by_the_emsp_and_its_timeout_fallback(world):
    emsp = world.emsp
    await put(world, "04NEVER00001", whitelist="NEVER")
    await put(world, "04NEVER00002", whitelist="NEVER", valid=False)  # validity does not skip the check
    await put(world, "04OFFLINE001", whitelist="ALLOWED_OFFLINE")
    await put(world, "04ALLOWED001", whitelist="ALLOWED")
    for uid in ("04NEVER00001", "04NEVER00002", "04OFFLINE001", "04ALLOWED001"):
        await h.until(lambda uid=uid: world.gateway.index.token(uid) is not None)
    emsp.tokens = {uid: token(uid, whitelist="NEVER") for uid in ("04NEVER00001", "04NEVER00002", "04OFFLINE001")}
    emsp.authorizations = {"04NEVER00001": ("ALLOWED", "AUTH-REF-1"), "04NEVER00002": ("ALLOWED", "AUTH-REF-2"),
                           "04OFFLINE001": ("BLOCKED", None)}

    # answered by the eMSP: at a 1.6 and a 2.0.1 charger
    info16 = (await world.v16.send(call16.Authorize(id_tag="04NEVER00001"))).id_tag_info
    info201 = (await world.v201.send(call201.Authorize(
        id_token={"id_token": "04NEVER00002", "type": "ISO14443"}))).id_token_info
    assert info16["status"] == info201["status"] == "Accepted"
    # asked in real time, so not to be answered from the chargers' authorisation caches next time
    now = datetime.now(UTC)
    assert datetime.fromisoformat(info16["expiry_date"].replace("Z", "+00:00")) <= now
    assert datetime.fromisoformat(info201["cache_expiry_date_time"].replace("Z", "+00:00")) <= now
    assert await world.v201.authorize("04OFFLINE001") == "Blocked"  # the eMSP's word beats the whitelist
    allowed = (await world.v16.send(call16.Authorize(id_tag="04ALLOWED001"))).id_tag_info
    assert allowed == {"status": "Accepted"}  # ALLOWED: the index decides here, and the cache may keep it
    assert await world.v16.authorize("04UNKNOWN999") == "Invalid"  # nobody to ask about an unknown uid
    call = emsp.authorize_calls[0]
    assert call.path.endswith("/tokens/04NEVER00001/authorize?type=RFID")
    assert call.body == {"location_id": "LOC-BER-01"}
    assert call.headers["ocpi-to-country-code"] == "NL" and call.headers["ocpi-to-party-id"] == "EMS"
    assert [c.path.split("/tokens/")[1] for c in emsp.authorize_calls] == [
        "04NEVER00001/authorize?type=RFID", "04NEVER00002/authorize?type=RFID", "04OFFLINE001/authorize?type=RFID"]

    # the eMSP does not answer in time: NEVER is refused, ALLOWED_OFFLINE allowed from the whitelist
    emsp.authorize_delay = REALTIME_TIMEOUT + 2
    assert await world.v16.authorize("04NEVER00001") == "Invalid"
    assert await world.v201.authorize("04OFFLINE001") == "Accepted"

    found = await decisions(world, 7)
    assert sorted((d.id_token, d.status, d.decided_by, d.authorization_reference or "") for d in found) == sorted([
        ("04NEVER00001", "Accepted", "realtime", "AUTH-REF-1"),
        ("04NEVER00002", "Accepted", "realtime", "AUTH-REF-2"),
        ("04OFFLINE001", "Blocked", "realtime", ""),
        ("04ALLOWED001", "Accepted", "index", ""),
        ("04UNKNOWN999", "Invalid", "realtime", ""),
        ("04NEVER00001", "Invalid", "fallback", ""),
        ("04OFFLINE001", "Accepted", "fallback", ""),
    ])
    assert next(d for d in found if d.authorization_reference == "AUTH-REF-1").token_key == "NL/EMS/04NEVER00001/RFID"
