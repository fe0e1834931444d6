"""What the e2e runs assert, from the outside: the eMSP's OCPI pulls and ClickHouse queries.

Rounding (documented in docs/demo.md): the chargers send whole Wh, so every kWh figure is exact
with 3 decimals (OCPI sends 4); sums are compared exactly as Decimals. Costs: each cost field
rounded once to 4 decimals half up from its exact amount (docs/tariffs.md), computed here by hand
from the catalog.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from decimal import Decimal

from tests.e2e.catalog import expected_cost
from tests.e2e.driver import SentSession
from tests.e2e.system import QueryFailed, System
from tests.integration.ocpi.emsp_app import Emsp


def parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def key(evse_uid: str, start: datetime) -> tuple[str, str]:
    return evse_uid, start.strftime("%Y-%m-%dT%H:%M:%S")  # seconds: OCPI may drop the milliseconds


def dec(x) -> Decimal:
    return Decimal(str(x))


async def pull(emsp: Emsp, module: str) -> list[dict]:
    items, pages = await emsp.pull_all(module, limit=100)
    for p in pages:
        assert p.status_code == 200 and p.json()["status_code"] == 1000, p.text[:500]
    return items


async def wait_until(what: str, predicate, system: System, timeout: float, interval: float = 1.0):
    """Poll an async predicate until it returns a truthy value (event-driven, bounded)."""
    last = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                system.check_alive()
                last = await predicate()
                if last and last[0]:
                    return last
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}\n{system.logs()}") from None


async def evse_statuses(emsp: Emsp) -> dict[str, str]:
    return {e["uid"]: e["status"] for loc in await pull(emsp, "locations") for e in loc.get("evses", [])}


async def check(system: System, emsp: Emsp, sent: list[SentSession], samples_sent: int,
                timeout: float = 240.0) -> dict:
    expected = {key(s.evse_uid, s.start): s for s in sent}
    assert len(expected) == len(sent), "two simulated sessions share an EVSE and start second"
    n = len(sent)

    async def cdrs_ready():
        cdrs = await pull(emsp, "cdrs")
        return len([c for c in cdrs if dec(c["total_cost"]["excl_vat"]) >= 0]) >= n, len(cdrs)
    await wait_until(f"{n} CDRs served by OCPI", cdrs_ready, system, timeout)

    sessions = await pull(emsp, "sessions")
    cdrs = await pull(emsp, "cdrs")
    # --- each simulated session appears once in OCPI sessions, COMPLETED, with its energy
    by_key = Counter(key(s["evse_uid"], parse_dt(s["start_date_time"])) for s in sessions)
    assert set(by_key) == set(expected), (sorted(set(by_key) ^ set(expected)), sessions)
    assert all(c == 1 for c in by_key.values()), by_key
    session_ids = {}
    for s in sessions:
        sent_s = expected[key(s["evse_uid"], parse_dt(s["start_date_time"]))]
        assert s["status"] == "COMPLETED", s
        assert dec(s["kwh"]) == Decimal(sent_s.energy_wh) / 1000, (s, sent_s)
        assert s["location_id"] == sent_s.location_id
        session_ids[s["id"]] = sent_s
    # --- each session once as a CDR (no credit CDRs: nothing was amended), priced as by hand
    assert all(dec(c["total_cost"]["excl_vat"]) >= 0 and not c.get("credit") for c in cdrs), \
        [c for c in cdrs if c.get("credit")]
    per_session = Counter(c["session_id"] for c in cdrs)
    assert set(per_session) == set(session_ids), (per_session, list(session_ids))
    assert all(v == 1 for v in per_session.values()), per_session
    for c in cdrs:
        sent_s = session_ids[c["session_id"]]
        want = expected_cost(sent_s.tariff_id, sent_s.energy_wh)
        assert dec(c["total_energy"]) == Decimal(sent_s.energy_wh) / 1000, (c, sent_s)
        assert c["cdr_location"]["evse_uid"] == sent_s.evse_uid
        assert [t["id"] for t in c.get("tariffs", [])] in ([sent_s.tariff_id], []), c.get("tariffs")
        got = (dec(c["total_cost"]["excl_vat"]), dec(c["total_cost"]["incl_vat"]),
               dec(c.get("total_energy_cost", {}).get("excl_vat", 0)),
               dec(c.get("total_fixed_cost", {}).get("excl_vat", 0)))
        assert got == (want["total_excl"], want["total_incl"], want["energy_excl"], want["fixed_excl"]), \
            (sent_s.tariff_id, sent_s.energy_wh, got, want, c)
    total_wh = sum(s.energy_wh for s in sent)
    sum_cdr = sum(dec(c["total_energy"]) for c in cdrs)
    sum_sessions = sum(dec(s["kwh"]) for s in sessions)
    assert sum_cdr == sum_sessions == Decimal(total_wh) / 1000

    # --- ClickHouse: one row per meter sample sent; energy and sessions agree
    async def clickhouse_caught_up():
        try:
            rows = (await system.query(
                "SELECT (SELECT count() FROM meter_values FINAL), (SELECT count() FROM sessions FINAL "
                "WHERE final), (SELECT count() FROM cdrs FINAL)"))[0]
        except QueryFailed as exc:
            return False, str(exc)
        got = tuple(int(x) for x in rows)
        return got[0] >= samples_sent and got[1] >= n and got[2] >= n, got
    await wait_until("ClickHouse to hold every sample, session and CDR", clickhouse_caught_up, system, timeout)
    meter_rows = int((await system.query("SELECT count() FROM meter_values FINAL"))[0][0])
    distinct_ids = int((await system.query("SELECT uniqExact(event_id) FROM meter_values"))[0][0])
    assert meter_rows == distinct_ids == samples_sent, (meter_rows, distinct_ids, samples_sent)
    ch_sessions = await system.query(
        "SELECT count(), toString(sum(kwh)), countIf(status = 'COMPLETED') FROM sessions FINAL")
    assert int(ch_sessions[0][0]) == n and int(ch_sessions[0][2]) == n, ch_sessions
    assert dec(ch_sessions[0][1]) == Decimal(total_wh) / 1000, (ch_sessions, total_wh)
    register_span = await system.query(
        "SELECT toString(sum(span)) FROM (SELECT station_id, max(value) - min(value) AS span "
        "FROM meter_values FINAL WHERE measurand = 'Energy.Active.Import.Register' GROUP BY station_id)")
    assert dec(register_span[0][0]) == Decimal(total_wh), (register_span, total_wh)
    hourly = {r[0]: dec(r[1]) for r in await system.query(
        "SELECT station_id, toString(sum(energy_wh)) FROM energy_per_station_hour GROUP BY station_id")}
    sent_per_station: dict[str, Decimal] = {}
    for s in sent:
        sent_per_station[s.station_id] = sent_per_station.get(s.station_id, Decimal(0)) + s.energy_wh
    for station, wh in sent_per_station.items():
        assert hourly.get(station) == wh, (station, hourly.get(station), wh)
    evse0 = {r[0] for r in await system.query(
        "SELECT DISTINCT station_id FROM meter_values FINAL WHERE evse_id = 0")}
    assert not evse0, evse0  # every sample knows its EVSE, also after a failover
    ch_cdrs = await system.query("SELECT count(), toString(sum(total_energy_kwh)), "
                                 "toString(sum(total_cost_excl_vat)) FROM cdrs FINAL")
    assert int(ch_cdrs[0][0]) == n and dec(ch_cdrs[0][1]) == Decimal(total_wh) / 1000, ch_cdrs
    assert dec(ch_cdrs[0][2]) == sum(dec(c["total_cost"]["excl_vat"]) for c in cdrs), ch_cdrs
    return {"sessions": n, "kwh": Decimal(total_wh) / 1000, "samples": samples_sent,
            "revenue_excl_vat": dec(ch_cdrs[0][2])}
