"""Benchmark: paginated GET /locations and GET /cdrs of the OCPI API with 10,000 objects each.

Fills a SQLite read model with 10,000 locations and 10,000 CDRs (real OCPI documents), runs the
API (the service's FastAPI app under uvicorn) in a child process on one core, drives it with an
async HTTP client, and prints requests/s and p50/p99 latency per endpoint, plus the server's CPU
time per request (from /proc: wall-clock figures depend on what else the machine runs, and the
client shares it).

    python bench/ocpi_api.py [--objects 10000] [--requests 3000] [--concurrency 16] [--limit 10]
    python bench/ocpi_api.py --profile   # in-process, no HTTP server: CPU per request + cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import orjson  # noqa: E402

from libs.catalog.models import LocationRecord  # noqa: E402
from libs.ocpi.models import BusinessDetails  # noqa: E402
from libs.ocpi.types import Status  # noqa: E402
from services.ocpi import mapping  # noqa: E402
from services.ocpi.db import CdrRow, LocationRow, Partner, create_schema, make_engine, sessionmaker  # noqa: E402

TOKEN = "bench-token"
CDR_EXAMPLE = Path(__file__).resolve().parents[1] / "tests" / "unit" / "ocpi_examples" / "cdr_example.json"


async def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    await create_schema(engine)
    sm = sessionmaker(engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cdr_doc = json.loads(CDR_EXAMPLE.read_text())
    async with sm.begin() as db:
        db.add(Partner(name="bench", state="registered", token_in=TOKEN, token_out="x",
                       roles='[{"role":"EMSP","business_details":{"name":"B"},"party_id":"EMS","country_code":"NL"}]'))
        for i in range(n):
            lu = t0 + timedelta(seconds=i)
            rec = LocationRecord.model_validate({
                "record_key": f"DE/VST/L{i}", "owner": "catalog", "last_updated": lu, "country_code": "DE",
                "party_id": "VST", "location": {
                    "id": f"L{i}", "name": f"Site {i}", "address": "Main 1", "city": "Berlin", "country": "DEU",
                    "time_zone": "Europe/Berlin", "coordinates": {"latitude": "52.521880", "longitude": "13.413220"},
                    "evses": [{"uid": f"L{i}-E{j}", "evse_id": f"DE*VST*E{i}*{j}", "station_id": f"CS{i}",
                               "ocpp_evse_id": j, "connectors": [{
                                   "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                   "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}]}
                              for j in (1, 2)]}})
            loc = mapping.build_location(rec, evse_states={f"L{i}-E{j}": (Status.AVAILABLE, lu) for j in (1, 2)},
                                         operator=BusinessDetails(name="bench"))
            db.add(LocationRow(key=rec.record_key, country_code="DE", party_id="VST", location_id=f"L{i}",
                               record=rec.model_dump_json(), record_updated=lu.replace(tzinfo=None),
                               last_updated=lu.replace(tzinfo=None), ocpi=orjson.dumps(loc.to_ocpi()).decode()))
            doc = copy.deepcopy(cdr_doc)
            doc.update(country_code="DE", party_id="VST", id=f"CDR-{i}", last_updated=lu.strftime("%Y-%m-%dT%H:%M:%SZ"))
            doc["cdr_token"].update(country_code="NL", party_id="EMS")
            db.add(CdrRow(cdr_id=f"CDR-{i}", country_code="DE", party_id="VST", token_country_code="NL",
                          token_party_id="EMS", last_updated=lu.replace(tzinfo=None),
                          ocpi=orjson.dumps(mapping.build_cdr(doc).to_ocpi()).decode()))
    await engine.dispose()


def serve(url: str, port: int) -> None:
    import uvicorn

    from services.ocpi.api.app import create_app
    from services.ocpi.client import OcpiClient
    from services.ocpi.metrics import OcpiMetrics
    from services.ocpi.settings import OcpiSettings

    settings = OcpiSettings(database_url=url, port=port, public_url=f"http://127.0.0.1:{port}", max_page_limit=100)
    app = create_app(settings=settings, sessionmaker=sessionmaker(make_engine(url)),
                     client=OcpiClient(from_country="DE", from_party="VST"), metrics=OcpiMetrics())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


class Http11:
    """A minimal HTTP/1.1 keep-alive client: httpx costs the client more CPU than the server
    spends per request, and client and server share this machine's cores."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {target} HTTP/1.1\r\n{self.head}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(port: int, path: str, n_objects: int, requests: int, concurrency: int, limit: int) -> dict:
    headers = {"Authorization": "Token " + base64.b64encode(TOKEN.encode()).decode()}
    latencies: list[float] = []
    pages = max(1, n_objects // limit)
    counter = iter(range(requests))

    async def worker():
        http = Http11("127.0.0.1", port, headers)
        try:
            for i in counter:
                offset = (i * 7919 % pages) * limit  # spread over all pages
                t = time.perf_counter()
                status, body = await http.get(f"{path}?offset={offset}&limit={limit}")
                latencies.append(time.perf_counter() - t)
                assert status == 200 and len(orjson.loads(body)["data"]) == limit, body[:200]
        finally:
            await http.close()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


async def profile(url: str, n_objects: int, requests: int, limit: int) -> None:
    """Drive the ASGI app in-process (no HTTP server, no client) and print CPU per request and
    the functions that take it (cProfile, stdlib: no extra dependency)."""
    import cProfile
    import pstats

    from services.ocpi.api.app import create_app
    from services.ocpi.client import OcpiClient
    from services.ocpi.metrics import OcpiMetrics
    from services.ocpi.settings import OcpiSettings

    settings = OcpiSettings(database_url=url, public_url="http://127.0.0.1", max_page_limit=100)
    app = create_app(settings=settings, sessionmaker=sessionmaker(make_engine(url)),
                     client=OcpiClient(from_country="DE", from_party="VST"), metrics=OcpiMetrics())
    auth = ("Token " + base64.b64encode(TOKEN.encode()).decode()).encode()
    pages = max(1, n_objects // limit)

    async def get(path: str, i: int) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
                 "query_string": f"offset={(i * 7919 % pages) * limit}&limit={limit}".encode(),
                 "headers": [(b"host", b"127.0.0.1"), (b"authorization", auth)],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        status = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
        await app(scope, receive, send)
        assert status == [200], status

    for path in ("/ocpi/cpo/2.2.1/locations", "/ocpi/cpo/2.2.1/cdrs"):
        for i in range(50):  # warm-up: caches, compiled statements
            await get(path, i)
        cpu = time.process_time()
        for i in range(requests):
            await get(path, i)
        print(f"in-process GET {path}?limit={limit}: {(time.process_time() - cpu) * 1000 / requests:.2f} ms CPU/req")
        prof = cProfile.Profile()
        prof.enable()
        for i in range(requests):
            await get(path, i)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--db", metavar="PATH", help="keep the filled database here (filled only if missing)")
    ap.add_argument("--serve", metavar="DB_URL")
    ap.add_argument("--profile", action="store_true", help="profile in-process instead of the HTTP benchmark")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{db}"
        if not db.exists():
            t = time.perf_counter()
            asyncio.run(fill(url, args.objects))
            print(f"filled {args.objects} locations + {args.objects} CDRs in {time.perf_counter() - t:.1f}s")
        if args.profile:
            asyncio.run(profile(url, args.objects, args.requests, args.limit))
            return
        proc = subprocess.Popen([sys.executable, __file__, "--serve", url, "--port", str(args.port)], env=os.environ)
        try:
            base = f"http://127.0.0.1:{args.port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            for path in ("/ocpi/cpo/2.2.1/locations", "/ocpi/cpo/2.2.1/cdrs"):
                asyncio.run(load(args.port, path, args.objects, 200, 4, args.limit))  # warm-up
                cpu = cpu_seconds(proc.pid)
                res = asyncio.run(load(args.port, path, args.objects, args.requests, args.concurrency, args.limit))
                cpu_ms = (cpu_seconds(proc.pid) - cpu) * 1000 / args.requests
                print(f"GET {path}?limit={args.limit}: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
                      f"p99 {res['p99_ms']:.1f} ms, server CPU {cpu_ms:.2f} ms/req "
                      f"(= {1000 / cpu_ms:.0f} req/s per core; server: 1 process; "
                      f"{args.concurrency} concurrent clients)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
