"""`voltstream demo report`: the whole flow seen from the outside, for a newcomer.

Sessions and CDRs come from the OCPI 2.2.1 API, as a roaming partner sees them; energy and meter
samples from ClickHouse through the analytics query endpoint. To read OCPI the report acts as a
built-in local partner ("voltstream-demo", role HUB, so it sees every party's sessions and CDRs):
on first use it creates a partner invitation in the OCPI database (as `voltstream partner invite`
does), performs the credentials handshake over HTTP with a short-lived local versions endpoint
that offers only the credentials module (so the CPO never pushes to it), and keeps the token it
got in `var/demo/partner.json`. See docs/demo.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import typer

demo_app = typer.Typer(no_args_is_help=True, help="Demo helpers: see the whole flow work (docs/demo.md).")

STATE = Path("var/demo/partner.json")
DEMO_ROLE = {"role": "HUB", "business_details": {"name": "voltstream demo report"}, "party_id": "DMO",
             "country_code": "DE"}
# `voltstream up` runs the OCPI service on this database (voltstream/up.py).
UP_OCPI_DATABASE_URL = "sqlite+aiosqlite:///var/ocpi.db"


def _token_header(token: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _envelope(data) -> dict:
    return {"data": data, "status_code": 1000, "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


async def _invite(name: str) -> str:
    """Create a partner invitation in the OCPI database; returns token A."""
    os.environ.setdefault("VOLTSTREAM_OCPI_DATABASE_URL", UP_OCPI_DATABASE_URL)
    from services.ocpi.db import create_schema, make_engine, sessionmaker
    from services.ocpi.partners import invite
    from services.ocpi.settings import OcpiSettings

    engine = make_engine(OcpiSettings().database_url)
    try:
        await create_schema(engine)
        async with sessionmaker(engine).begin() as db:
            return (await invite(db, name)).token_in
    finally:
        await engine.dispose()


async def register(versions_url: str, token_a: str) -> dict:
    """eMSP-side handshake: GET versions/details with A, POST our credentials (token B, our
    versions URL served here for the duration), keep token C and the CPO's endpoints."""
    from aiohttp import web

    port = _free_port()
    base = f"http://127.0.0.1:{port}/demo"
    token_b = secrets.token_urlsafe(24)

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == _token_header(token_b)["Authorization"]

    async def versions(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"status_code": 2001, "timestamp": datetime.now(UTC).isoformat()}, status=401)
        return web.json_response(_envelope([{"version": "2.2.1", "url": f"{base}/2.2.1"}]))

    async def details(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"status_code": 2001, "timestamp": datetime.now(UTC).isoformat()}, status=401)
        return web.json_response(_envelope({"version": "2.2.1", "endpoints": [
            {"identifier": "credentials", "role": "RECEIVER", "url": f"{base}/2.2.1/credentials"}]}))

    app = web.Application()
    app.router.add_get("/demo/versions", versions)
    app.router.add_get("/demo/2.2.1", details)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            h = _token_header(token_a)
            vs = (await http.get(versions_url, headers=h)).json()
            v = next(x for x in vs["data"] if x["version"] == "2.2.1")
            endpoints = (await http.get(v["url"], headers=h)).json()["data"]["endpoints"]
            cred_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
            reply = (await http.post(cred_url, headers=h, json={
                "token": token_b, "url": f"{base}/versions", "roles": [DEMO_ROLE]})).json()
    finally:
        await runner.cleanup()
    if reply.get("status_code") != 1000:
        raise RuntimeError(f"credentials handshake refused: {reply}")
    return {"versions_url": versions_url, "token": reply["data"]["token"], "endpoints": endpoints}


async def _pull(http: httpx.AsyncClient, state: dict, module: str) -> list[dict]:
    url = next(e["url"] for e in state["endpoints"] if e["identifier"] == module and e["role"] == "SENDER")
    items: list[dict] = []
    params: dict | None = {"limit": 100}
    while url:
        r = await http.get(url, params=params, headers=_token_header(state["token"]))
        if r.status_code == 401:
            raise PermissionError(module)
        r.raise_for_status()
        items += r.json()["data"]
        link = r.headers.get("link", "")
        url, params = (link[link.index("<") + 1: link.index(">")], None) if "<" in link else (None, None)
    return items


async def _query(http: httpx.AsyncClient, url: str, sql: str) -> list[list[str]]:
    r = await http.post(url, params={"database": os.environ.get("VOLTSTREAM_ANALYTICS_DATABASE", "voltstream")},
                        content=sql.encode())
    if r.status_code != 200:
        raise RuntimeError(f"analytics query failed ({r.status_code}): {r.text[:300]}")
    return [line.split("\t") for line in r.text.splitlines() if line]


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


async def collect(ocpi_url: str, query_url: str, state_file: Path = STATE) -> dict:
    """Everything the report shows, as data (used by the command and by tests)."""
    versions_url = ocpi_url.rstrip("/") + "/ocpi/versions"
    state = _load(state_file)
    if state is not None and state.get("versions_url") != versions_url:
        state = None
    async with httpx.AsyncClient(timeout=60) as http:
        for attempt in range(2):
            if state is None:
                state = await register(versions_url, await _invite("voltstream-demo"))
                _save(state_file, state)
            try:
                sessions = await _pull(http, state, "sessions")
                cdrs = await _pull(http, state, "cdrs")
                locations = await _pull(http, state, "locations")
                break
            except PermissionError:  # the OCPI database was reset: register again
                if attempt:
                    raise
                state = None
        ch_meter = await _query(http, query_url, "SELECT count(), uniqExact(station_id) FROM meter_values FINAL")
        ch_energy = await _query(http, query_url, "SELECT toString(sum(energy_wh)) FROM energy_per_station_hour")
        ch_sessions = await _query(http, query_url,
                                   "SELECT session_id, location_id, toString(kwh) FROM sessions FINAL")
    sites: dict[str, dict] = defaultdict(lambda: {
        "name": "", "evses": 0, "ocpi_sessions": 0, "active": 0, "completed": 0, "session_kwh": Decimal(0),
        "cdrs": 0, "credited": 0, "cdr_kwh": Decimal(0), "cost_excl_vat": Decimal(0), "cost_incl_vat": Decimal(0), "currency": "",
        "clickhouse_sessions": 0, "clickhouse_kwh": Decimal(0)})
    for loc in locations:
        sites[loc["id"]].update(name=loc.get("name") or "", evses=len(loc.get("evses", [])))
    for s in sessions:
        site = sites[s["location_id"]]
        site["ocpi_sessions"] += 1
        site["active"] += s["status"] == "ACTIVE"
        site["completed"] += s["status"] == "COMPLETED"
        site["session_kwh"] += Decimal(str(s["kwh"]))
    # A credit CDR cancels the CDR it references (same energy, negated costs); the report shows what
    # stands: CDRs not credited, and how many were replaced (an amended session: credit + new CDR).
    credited = {c["credit_reference_id"] for c in cdrs if c.get("credit")}
    standing = [c for c in cdrs if not c.get("credit") and c["id"] not in credited]
    for c in cdrs:
        if not c.get("credit") and c["id"] in credited:
            sites[c["cdr_location"]["id"]]["credited"] += 1
    for c in standing:
        site = sites[c["cdr_location"]["id"]]
        site["cdrs"] += 1
        site["cdr_kwh"] += Decimal(str(c["total_energy"]))
        site["cost_excl_vat"] += Decimal(str(c["total_cost"]["excl_vat"]))
        site["cost_incl_vat"] += Decimal(str(c["total_cost"].get("incl_vat", c["total_cost"]["excl_vat"])))
        site["currency"] = c["currency"]
    ch_kwh = {session_id: Decimal(kwh) for session_id, _, kwh in ch_sessions}
    for session_id, location_id, _ in ch_sessions:
        sites[location_id]["clickhouse_sessions"] += 1
        sites[location_id]["clickhouse_kwh"] += ch_kwh[session_id]
    return {"sites": dict(sites), "meter_samples": int(ch_meter[0][0]), "metered_stations": int(ch_meter[0][1]),
            "metered_wh": Decimal(ch_energy[0][0] or "0"), "ocpi_sessions": len(sessions),
            "cdrs": sum(s["cdrs"] for s in sites.values()), "credited": len(credited),
            "check": _billed_energy_check(sessions, standing, ch_kwh)}


def _billed_energy_check(sessions: list[dict], standing: list[dict], ch_kwh: dict[str, Decimal]) -> dict:
    """The invariant a newcomer can see: the standing CDRs' kWh equals their sessions' kWh, as OCPI
    /sessions and ClickHouse each hold them. Completed sessions still inside the finality grace
    have no CDR yet; they are counted, not compared."""
    ocpi_kwh = {s["id"]: Decimal(str(s["kwh"])) for s in sessions}
    billed = {c["session_id"] for c in standing}
    check = {
        "cdrs": len(standing), "sessions_billed": len(billed),
        "cdr_kwh": sum((Decimal(str(c["total_energy"])) for c in standing), Decimal(0)),
        "ocpi_kwh": sum((ocpi_kwh.get(sid, Decimal(0)) for sid in billed), Decimal(0)),
        "clickhouse_kwh": sum((ch_kwh.get(sid, Decimal(0)) for sid in billed), Decimal(0)),
        "awaiting_finality": sum(s["status"] == "COMPLETED" and s["id"] not in billed for s in sessions),
    }
    check["ok"] = (check["cdrs"] == check["sessions_billed"]
                   and check["cdr_kwh"] == check["ocpi_kwh"] == check["clickhouse_kwh"])
    return check


@demo_app.command("report")
def report(
    ocpi_url: str = typer.Option(None, help="OCPI base URL (default VOLTSTREAM_OCPI_PUBLIC_URL or :8080)"),
    query_url: str = typer.Option(None, help="analytics query endpoint (default 127.0.0.1:8124)"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
) -> None:
    """Sessions, CDR totals and energy per site: OCPI API (as a partner) + ClickHouse."""
    from services.analytics.settings import AnalyticsSettings
    from services.ocpi.settings import OcpiSettings

    ocpi_url = ocpi_url or OcpiSettings().public_url
    if query_url is None:
        a = AnalyticsSettings()
        query_url = f"http://{a.query_host}:{a.query_port}/"
    try:
        data = asyncio.run(collect(ocpi_url, query_url))
    except (httpx.HTTPError, RuntimeError, OSError) as exc:
        typer.echo(f"demo report: cannot read the system ({exc!r}). Is `make up` running?", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    credited = f" (+{data['credited']} credited and re-issued)" if data["credited"] else ""
    typer.echo(f"OCPI {ocpi_url}: {data['ocpi_sessions']} sessions, {data['cdrs']} CDRs{credited}   |   ClickHouse "
               f"{query_url}: {data['meter_samples']} meter samples from {data['metered_stations']} stations, "
               f"{data['metered_wh'] / 1000:.3f} kWh metered")
    header = (f"{'site':<14} {'sessions':>8} {'active':>6} {'done':>5} {'kWh (OCPI)':>11} {'CDRs':>5} "
              f"{'CDR kWh':>9} {'excl. VAT':>10} {'incl. VAT':>10} {'kWh (ClickHouse)':>17}")
    typer.echo(header)
    typer.echo("-" * len(header))
    for site_id, s in sorted(data["sites"].items()):
        typer.echo(f"{site_id:<14} {s['ocpi_sessions']:>8} {s['active']:>6} {s['completed']:>5} "
                   f"{s['session_kwh']:>11.3f} {s['cdrs']:>5} {s['cdr_kwh']:>9.3f} "
                   f"{s['cost_excl_vat']:>10.2f} {s['cost_incl_vat']:>10.2f} {s['clickhouse_kwh']:>17.3f}"
                   + (f"  {s['currency']}" if s["currency"] else ""))
    c = data["check"]
    typer.echo(f"check: {c['cdrs']} CDRs for {c['sessions_billed']} sessions; CDR kWh {c['cdr_kwh']:.3f} = "
               f"their sessions' kWh in OCPI {c['ocpi_kwh']:.3f} = in ClickHouse {c['clickhouse_kwh']:.3f}: "
               + ("holds" if c["ok"] else "DOES NOT HOLD"))
    if c["awaiting_finality"]:
        typer.echo(f"{c['awaiting_finality']} completed session(s) not billed yet: a session is billed once "
                   "final, the finality grace after its stop (30 s under `make up`)")


@demo_app.command("fleet", hidden=True)
def fleet(
    url: str = typer.Option("ws://127.0.0.1:9000/ocpp"),
    catalog: Path = typer.Option(Path("examples/catalog.yaml")),
    meter_interval: float = typer.Option(5.0),
    session_minutes: float = typer.Option(1.0),
) -> None:
    """The demo fleet `voltstream up` starts: the catalog's stations, keys from its header."""
    from libs.simulator.fleet import Fleet, FleetConfig, progress

    keys = demo_keys(catalog)
    cfg = FleetConfig(url=url, names=list(keys), keys=keys, meter_interval=meter_interval,
                      session_minutes=session_minutes)

    async def main() -> None:
        f = Fleet(cfg)
        reporter = asyncio.create_task(progress(f, every=30.0, out=typer.echo))
        try:
            await f.run()
        finally:
            reporter.cancel()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def demo_keys(catalog: Path) -> dict[str, str]:
    """Station keys listed in the demo catalog's header comment ("#   STATION  KEY  (OCPP x)"),
    ordered so the simulator's mixed protocols (1.6 on even positions) match the comments."""
    v16, v201 = [], []
    for line in catalog.read_text().splitlines():
        parts = line.lstrip("#").split()
        if line.startswith("#") and len(parts) >= 4 and parts[2] == "(OCPP" and parts[1].startswith("demo-"):
            (v16 if parts[3].startswith("1.6") else v201).append((parts[0], parts[1]))
    ordered = [x for pair in zip(v16, v201, strict=False) for x in pair]
    ordered += v16[len(v201):] + v201[len(v16):]
    return dict(ordered)


if __name__ == "__main__":  # pragma: no cover
    demo_app()
