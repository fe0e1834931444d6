"""The OCPI adapter end to end: real Kafka, real SQLite, the API on a real port and a separate
eMSP app on another port (credentials both ways, Sender pulls, pushes, errors)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from libs.events.producer import EventProducer
from libs.ocpi.types import format_datetime
from services.ocpi.cli import partner_app
from services.ocpi.partners import register_with
from tests.integration.ocpi import harness as h
from tests.integration.ocpi.emsp_app import Emsp
from tests.integration.ocpi.spec_checks import check_envelope, check_object

pytestmark = pytest.mark.kafka
runner = CliRunner()


async def cli(settings, *args):
    """The real `voltstream partner …` CLI (in a thread: it runs its own event loop)."""
    result = await asyncio.to_thread(runner.invoke, partner_app, list(args), env={"VOLTSTREAM_OCPI_DATABASE_URL": settings.database_url,
                                                         "VOLTSTREAM_OCPI_PUBLIC_URL": settings.public_url})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
async def world(kafka_settings, tmp_path):
    settings = h.ocpi_settings(tmp_path)
    producer = EventProducer(kafka_settings)
    await producer.start()
    await producer.send_many([
        h.location("LOC1", [h.evse("E1", "CS1", 1), h.evse("E2", "CS1", 2)]),
        h.location("LOC2", [h.evse("E3", "CS2", 1)]),
        h.location("LOC3", [h.evse("E4", "CS3", 1)], last_updated=h.T0 + timedelta(days=1)),
        h.location("LOC4", [h.evse("E5", "CS4", 1, removed=True)], last_updated=h.T0 + timedelta(days=2)),
        h.tariff("T1"), h.tariff("T2", "0.59", h.T0 + timedelta(days=1)),
        *h.online("CS1"), *h.online("CS3"),
        h.status("CS1", 1, "Occupied", h.T0 + timedelta(hours=1), detail="Charging"),
        h.status("CS1", 2, "Available", h.T0 + timedelta(hours=1)),
        h.status("CS3", 0, "Faulted", h.T0 + timedelta(hours=1)),
        h.status("CS3", 1, "Available", h.T0 + timedelta(hours=1)),
        h.session("s-1", 1), h.session("s-1", 3, kwh="7.25"), h.session("s-1", 2, kwh="3.0"),  # v2 is stale
        h.session("s-other", 1, party=("DE", "OTH")),
        h.cdr("CDR-1"), h.cdr("CDR-OTHER", party=("DE", "OTH")),
    ])
    svc = await h.start_service(settings, kafka_settings)
    emsp = Emsp()
    await emsp.start()
    yield settings, svc, emsp, producer
    await svc.stop()
    await emsp.stop()
    await producer.stop()


async def _register(settings, svc, emsp, raw_header=False):
    out = await cli(settings, "invite", "test-emsp")
    token_a = out.split("token A:")[1].split()[0]
    versions_url = out.split("versions URL:")[1].split()[0]
    assert versions_url == f"{settings.public_url}/ocpi/versions"
    return token_a, versions_url


async def test_handshake_pull_push_errors(world):
    settings, svc, emsp, producer = world
    await h.until(lambda: svc.ready())
    token_a, versions_url = await _register(settings, svc, emsp)

    # token A opens versions and credentials only
    r = await emsp.get(versions_url, token=token_a)
    check_envelope(r.json())
    assert r.json()["data"] == [{"version": "2.2.1", "url": f"{settings.public_url}/ocpi/2.2.1"}]
    r = await emsp.get(f"{settings.public_url}/ocpi/cpo/2.2.1/locations", token=token_a)
    assert r.status_code == 401 and r.json()["status_code"] == 2000
    r = await emsp.get(versions_url, token="nope")
    assert r.status_code == 401
    async with httpx.AsyncClient() as http:
        assert (await http.get(versions_url)).status_code == 401  # no Authorization header

    # eMSP → CPO registration (A → B → C), raw (non-base64) token A accepted too
    reg = await emsp.register_with_cpo(versions_url, token_a, raw_header=True)
    assert reg["http"] == 200 and reg["status_code"] == 1000, reg
    creds = check_object("credentials", reg["data"])
    assert creds.token != token_a and creds.roles[0].role == "CPO"
    assert creds.url == versions_url
    r = await emsp.get(f"{settings.public_url}/ocpi/2.2.1")
    details = check_object("details", r.json()["data"])
    assert {(str(e.identifier), e.role.value) for e in details.endpoints} >= {
        ("credentials", "SENDER"), ("locations", "SENDER"), ("sessions", "SENDER"), ("cdrs", "SENDER"),
        ("tariffs", "SENDER")}
    # token A is dead now; a second POST is 405
    assert (await emsp.get(versions_url, token=token_a)).status_code == 401
    async with httpx.AsyncClient() as http:
        again = await http.post(emsp.endpoint("credentials"), headers={"Authorization": "Token " + base64.b64encode(
            emsp.token_to_cpo.encode()).decode()}, json={"token": "x", "url": emsp.base + "/versions",
                                                          "roles": reg["data"]["roles"]})
    assert again.status_code == 405

    # ---- Sender: locations with pagination, Link, X-Total-Count, X-Limit
    await h.settled(svc)  # ready() covers the reference topics only; statuses, sessions, CDRs too
    locs, pages = await emsp.pull_all("locations", limit=10)
    assert [p.headers["x-limit"] for p in pages] == ["3", "3"]  # server caps at 3
    assert [p.headers["x-total-count"] for p in pages] == ["4", "4"]
    assert 'rel="next"' in pages[0].headers["link"] and "link" not in pages[1].headers
    assert pages[0].headers["x-request-id"] and pages[0].headers["x-correlation-id"]
    for p in pages:
        check_envelope(p.json())
    by_id = {d["id"]: d for d in locs}
    assert sorted(by_id) == ["LOC1", "LOC2", "LOC3", "LOC4"]
    for d in locs:
        check_object("locations", d)
    status = {e["uid"]: e["status"] for d in locs for e in d["evses"]}
    assert status == {"E1": "CHARGING", "E2": "AVAILABLE", "E3": "UNKNOWN", "E4": "OUTOFORDER", "E5": "REMOVED"}
    loc1 = by_id["LOC1"]
    assert loc1["country_code"] == "DE" and loc1["party_id"] == "VST" and loc1["publish"] is True
    assert loc1["time_zone"] == "Europe/Berlin" and loc1["opening_times"] == {"twentyfourseven": True}
    assert loc1["evses"][0]["connectors"][0] == {
        "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
        "max_amperage": 32, "max_electric_power": 22000, "tariff_ids": ["T1"], "last_updated": "2026-01-10T08:00:00Z"}
    # an EVSE's last_updated is when its status last changed (here: when the station came online)
    assert loc1["evses"][0]["last_updated"] >= "2026-01-10T09:00:00Z"
    assert loc1["last_updated"] == max(e["last_updated"] for e in loc1["evses"])

    # date filters: from inclusive, to exclusive; Link keeps them
    items, pages = await emsp.pull_all("locations", params={"date_from": "2026-01-12T08:00:00Z"}, limit=1)
    assert [d["id"] for d in items] == ["LOC1", "LOC3", "LOC4"]  # LOC4 last_updated == date_from
    assert "date_from=2026-01-12T08%3A00%3A00Z" in pages[0].headers["link"]
    items, _ = await emsp.pull_all("locations", params={"date_to": "2026-01-12T08:00:00Z"})
    assert [d["id"] for d in items] == ["LOC2"]  # date_to is exclusive
    items, _ = await emsp.pull_all("locations", params={"date_from": "2026-01-12T08:00:00+00:00",
                                                        "date_to": "2026-01-12T08:00:00.001Z"})
    assert [d["id"] for d in items] == ["LOC4"]

    # object endpoints
    r = await emsp.get(emsp.endpoint("locations") + "/LOC1")
    assert check_object("locations", r.json()["data"]).id == "LOC1"
    r = await emsp.get(emsp.endpoint("locations") + "/LOC1/E2")
    assert check_object("evse", r.json()["data"]).status.value == "AVAILABLE"
    r = await emsp.get(emsp.endpoint("locations") + "/LOC1/E2/1/")  # trailing slash accepted
    assert check_object("connector", r.json()["data"]).id == "1"

    # errors: unknown objects, bad parameters
    for path in ("/NOPE", "/LOC1/NOPE", "/LOC1/E2/9"):
        r = await emsp.get(emsp.endpoint("locations") + path)
        assert r.status_code == 404 and r.json()["status_code"] == 2003, path
        check_envelope(r.json(), 2003)
    for params in ({"date_from": "yesterday"}, {"offset": "-1"}, {"limit": "x"}, {"date_to": "2026-13-01T00:00:00Z"}):
        r = await emsp.get(emsp.endpoint("locations"), params=params)
        assert r.status_code == 400 and r.json()["status_code"] == 2001, params
    r = await emsp.get(emsp.endpoint("locations") + "/" + "x" * 37)
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    r = await emsp.get(emsp.endpoint("locations"), headers={"OCPI-from-country-code": "XX", "OCPI-from-party-id": "ZZZ"})
    assert r.status_code == 401
    r = await emsp.get(emsp.endpoint("locations"), headers={"OCPI-from-country-code": "NL", "OCPI-from-party-id": "EMS",
                                                            "OCPI-to-country-code": "DE", "OCPI-to-party-id": "VST"})
    assert r.status_code == 200
    assert r.headers["ocpi-to-country-code"] == "NL" and r.headers["ocpi-from-party-id"] == "VST"

    # ---- tariffs, sessions (stale version dropped, other parties' hidden), CDRs
    tariffs, _ = await emsp.pull_all("tariffs")
    assert [t["id"] for t in tariffs] == ["T1", "T2"]
    for t in tariffs:
        check_object("tariffs", t)
    sessions, _ = await emsp.pull_all("sessions")
    assert [s["id"] for s in sessions] == ["s-1"]
    s1 = check_object("sessions", sessions[0])
    assert str(s1.kwh) == "7.25" and s1.cdr_token.party_id == "EMS" and s1.status.value == "ACTIVE"
    assert sessions[0]["charging_periods"][0]["dimensions"][0] == {"type": "ENERGY", "volume": 7.25}
    cdrs, _ = await emsp.pull_all("cdrs")
    assert [c["id"] for c in cdrs] == ["CDR-1"]
    check_object("cdrs", cdrs[0])

    # ---- push: PUT before PATCH, per object in order, never older over newer
    t1 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    await producer.send(h.status("CS1", 1, "Available", t1))
    put = await h.until(lambda: [r for r in emsp.received if r.path.endswith("/locations/DE/VST/LOC1")])
    assert put[0].method == "PUT" and put[0].body["evses"][0]["status"] == "AVAILABLE"
    check_object("locations", put[0].body)
    await producer.send(h.status("CS1", 1, "Occupied", t1 + timedelta(minutes=1), detail="Preparing"))
    patch = await h.until(lambda: [r for r in emsp.received if r.method == "PATCH" and r.path.endswith("LOC1/E1")])
    assert patch[0].body == {"status": "CHARGING", "last_updated": format_datetime(t1 + timedelta(minutes=1))}
    assert patch[0].headers["authorization"].startswith("Token ")
    assert patch[0].headers["ocpi-to-party-id"] == "EMS" and patch[0].headers["x-request-id"]

    # session updates: PUT (whole object) then PATCH; a stale version never reaches the partner
    await producer.send(h.session("s-1", 4, kwh="9.5"))
    got = await h.until(lambda: [r for r in emsp.received if "/sessions/" in r.path])
    assert got[0].method == "PUT" and got[0].path.endswith("/sessions/DE/VST/s-1")
    assert check_object("sessions", got[0].body).kwh == Decimal("9.5")
    await producer.send_many([h.session("s-1", 2, kwh="3.0"),
                              h.session("s-1", 5, kwh="11", status="COMPLETED", end=h.T0 + timedelta(minutes=5))])
    await h.until(lambda: len([r for r in emsp.received if "/sessions/" in r.path]) >= 2)
    await h.settled(svc)
    await h.drained(svc)
    got = [r for r in emsp.received if "/sessions/" in r.path]
    assert [r.method for r in got] == ["PUT", "PATCH"]  # the stale version 2 never reaches the partner
    patch = got[1].body
    assert patch["status"] == "COMPLETED" and patch["kwh"] == 11 and patch["end_date_time"] == "2026-01-10T08:05:00Z"
    assert patch["last_updated"] > got[0].body["last_updated"]
    assert "cdr_token" not in patch  # PATCH carries only what changed (+ last_updated)
    # new CDR → POST once; another party's CDR never sent to this eMSP
    await producer.send_many([h.cdr("CDR-2"), h.cdr("CDR-OTHER-2", party=("DE", "OTH")), h.cdr("CDR-2")])
    posted = await h.until(lambda: [r for r in emsp.received if r.method == "POST"])
    await h.settled(svc)
    await h.drained(svc)
    assert [r.body["id"] for r in emsp.received if r.method == "POST"] == ["CDR-2"]
    check_object("cdrs", posted[0].body)
    # tariff change → PUT
    await producer.send(h.tariff("T1", "0.45", h.T0 + timedelta(days=3)))
    tput = await h.until(lambda: [r for r in emsp.received if "/tariffs/" in r.path])
    assert tput[0].method == "PUT" and tput[0].body["elements"][0]["price_components"][0]["price"] == 0.45

    # ---- partner down: nothing dropped, delivered in order when it is back
    emsp.down = True
    n_before = len(emsp.received)
    steps = [("Reserved", None, "RESERVED"), ("Unavailable", None, "INOPERATIVE"), ("Occupied", "SuspendedEV", "CHARGING")]
    for i, (st, detail, _) in enumerate(steps):
        await producer.send(h.status("CS1", 2, st, t1 + timedelta(minutes=1, seconds=10 + i), detail=detail))
    await h.until(lambda: emsp.rejected_calls >= 2)
    out = await cli(settings, "status")
    assert "pending=" in out and "failing=1" in out and "HTTP 503" in out
    metrics = (await emsp.get(f"{settings.public_url}/metrics")).text
    assert 'ocpi_push_failing_objects{partner="test-emsp"} 1.0' in metrics
    emsp.down = False
    e2 = await h.until(lambda: [r for r in emsp.received[n_before:] if r.path.endswith("LOC1/E2")]
                       if len([r for r in emsp.received[n_before:] if r.path.endswith("LOC1/E2")]) >= 3 else None)
    assert [r.body["status"] for r in e2] == [want for _, _, want in steps]
    lus = [r.body["last_updated"] for r in e2]
    assert lus == sorted(lus) and len(set(lus)) == 3
    # an older status event (charger clock behind) never overrides a newer one
    await producer.send(h.status("CS1", 2, "Faulted", t1 - timedelta(hours=5)))
    await h.settled(svc)
    r = await emsp.get(emsp.endpoint("locations") + "/LOC1/E2")
    assert r.json()["data"]["status"] == "CHARGING"

    # station goes offline → UNKNOWN; station-level Unavailable applies to every EVSE
    await producer.send(h.offline("CS1"))
    await h.until(lambda: [r for r in emsp.received if r.path.endswith("LOC1/E1") and r.body["status"] == "UNKNOWN"])
    await producer.send_many([*h.online("CS1"), h.status("CS1", 0, "Unavailable", t1 + timedelta(minutes=2))])
    r = await h.until(lambda: _statuses(emsp, "LOC1", {"E1": "INOPERATIVE", "E2": "INOPERATIVE"}))
    # catalog removes an EVSE → REMOVED (kept, never deleted)
    await producer.send(h.location("LOC1", [h.evse("E1", "CS1", 1), h.evse("E2", "CS1", 2, removed=True)],
                                   last_updated=h.T0 + timedelta(days=5)))
    await h.until(lambda: _statuses(emsp, "LOC1", {"E1": "INOPERATIVE", "E2": "REMOVED"}))
    assert "registered" in await cli(settings, "list")


async def _statuses(emsp, loc_id, expected):
    r = await emsp.get(emsp.endpoint("locations") + f"/{loc_id}")
    return {e["uid"]: e["status"] for e in r.json()["data"]["evses"]} == expected


async def test_cpo_initiated_handshake_update_unregister_restart(kafka_settings, tmp_path):
    settings = h.ocpi_settings(tmp_path)
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many([h.location("LOC1", [h.evse("E1", "CS1", 1)]), h.cdr("CDR-1")])
    svc = await h.start_service(settings, kafka_settings)
    emsp = Emsp()
    await emsp.start()
    try:
        # a partner without 2.2.1 / unreachable → 3001/3002, nothing registered
        from services.ocpi.partners import RegistrationError
        with pytest.raises(RegistrationError) as err:
            await register_with(svc.sm, svc.client, settings, "http://127.0.0.1:9/versions", "tok", "dead")
        assert err.value.status_code == 3001
        token_a = emsp.issue_token_a()
        partner = await register_with(svc.sm, svc.client, settings, f"{emsp.base}/versions", token_a, "emsp")
        assert partner.state == "registered" and partner.token_out.startswith("C-")
        # the eMSP fetched our endpoints with our token B during its POST handling, and can pull now
        assert emsp.token_to_cpo == partner.token_in
        await h.until(lambda: svc.ready())
        cdrs, _ = await h.until(lambda: _pull_nonempty(emsp, "cdrs"))
        assert cdrs[0]["id"] == "CDR-1"
        # the eMSP updates its credentials (PUT): new token C for it, old one rejected
        old = emsp.token_to_cpo
        async with httpx.AsyncClient() as http:
            hdr = {"Authorization": "Token " + base64.b64encode(old.encode()).decode()}
            emsp.accepted_tokens.add("B2-new")
            r = await http.put(emsp.endpoint("credentials"), headers=hdr, json={
                "token": "B2-new", "url": f"{emsp.base}/versions", "roles": [
                    {"role": "EMSP", "business_details": {"name": "Test eMSP"}, "party_id": "EMS", "country_code": "NL"}]})
            assert r.status_code == 200 and r.json()["status_code"] == 1000
            new = r.json()["data"]["token"]
            assert new != old
            assert (await emsp.get(emsp.endpoint("cdrs"), token=old)).status_code == 401
            assert (await emsp.get(emsp.endpoint("cdrs"), token=new)).status_code == 200
            # invalid credentials body is JSON: HTTP 200 with 2001; not JSON: 400
            hdr = {"Authorization": "Token " + base64.b64encode(new.encode()).decode()}
            r = await http.put(emsp.endpoint("credentials"), headers=hdr, json={"token": "x"})
            assert r.status_code == 200 and r.json()["status_code"] == 2001
            r = await http.put(emsp.endpoint("credentials"), headers=hdr, content=b"{not json")
            assert r.status_code == 400 and r.json()["status_code"] == 2001
            r = await http.delete(emsp.endpoint("credentials"), headers=hdr)
            assert r.status_code == 200 and r.json()["status_code"] == 1000
            assert (await emsp.get(emsp.endpoint("cdrs"), token=new)).status_code == 401
    finally:
        await svc.stop()
    # restart: resumes from committed offsets, read model kept (no re-apply needed)
    async with EventProducer(kafka_settings) as producer:
        await producer.send(h.cdr("CDR-2"))
    svc = await h.start_service(settings, kafka_settings)
    try:
        await h.until(lambda: svc.ready())
        async with svc.sm() as db:
            from sqlalchemy import select

            from services.ocpi.db import CdrRow
            await h.until(lambda: _cdr_ids(svc))
            ids = [r for r in (await db.execute(select(CdrRow.cdr_id).order_by(CdrRow.seq))).scalars()]
        assert ids == ["CDR-1", "CDR-2"]
    finally:
        await svc.stop()
        await emsp.stop()


async def _cdr_ids(svc):
    from sqlalchemy import func, select

    from services.ocpi.db import CdrRow
    async with svc.sm() as db:
        return (await db.execute(select(func.count()).select_from(CdrRow))).scalar_one() == 2


async def _pull_nonempty(emsp, module):
    items, pages = await emsp.pull_all(module)
    return (items, pages) if items else None


def test_openapi_published_shapes():
    from services.ocpi.app import OcpiService
    from services.ocpi.settings import OcpiSettings

    schema = OcpiService(OcpiSettings(database_url="sqlite+aiosqlite:///:memory:")).app.openapi()
    paths = set(schema["paths"])
    assert {"/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials", "/ocpi/cpo/2.2.1/locations",
            "/ocpi/cpo/2.2.1/locations/{location_id}/{evse_uid}/{connector_id}", "/ocpi/cpo/2.2.1/sessions",
            "/ocpi/cpo/2.2.1/cdrs", "/ocpi/cpo/2.2.1/tariffs"} <= paths
    assert orjson.dumps(schema)
