"""Gateway fleet benchmark: N simulated stations (own process) against a real gateway (own
process) and a real Kafka.

Prints: connections held, OCPP messages/s, p50/p95/p99 CALL→CALLRESULT latency (includes the
Kafka ack: the gateway answers only after it), gateway RSS per 1,000 connections, CPU split
gateway / simulator / broker, gateway CPU per CALL, how the events travelled (straight to Kafka
or through the spool), and the time for all stations to reconnect after a gateway restart.

    python bench/gateway_fleet.py --stations 1000 [--target-rps 600,1500] [--load-seconds 20]
    (uses the broker at --bootstrap, default 127.0.0.1:19092, with a throw-away topic prefix;
    several --target-rps values run one load phase each, e.g. half load and full load)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEY = "bench-station-key-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gateway_metrics(health: int) -> dict[str, float]:
    """The gateway's counters that tell whether events went to Kafka or through the spool."""
    import httpx

    wanted = ("voltstream_gateway_events_total", "voltstream_gateway_events_spooled_total",
              "voltstream_gateway_frames_dropped_total", "voltstream_gateway_call_errors_total",
              "voltstream_gateway_spool_events")
    out = dict.fromkeys(wanted, 0.0)
    try:
        text = httpx.get(f"http://127.0.0.1:{health}/metrics", timeout=5).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in out:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


def broker_pid(port: str) -> int | None:
    """The local Kafka broker's pid (read-only look at /proc, for the CPU split)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "kafka.Kafka" in cmd:
                props = cmd.split()[-1]
                try:
                    if f":{port}" in Path(props).read_text():
                        return int(d.name)
                except OSError:
                    return int(d.name)
    return None


# ---------------------------------------------------------------- simulator process ----------
async def simulator(url: str, n: int, prefix: str) -> None:
    import ocpp.messages

    from libs.simulator.chargers import V16, V201, MeterReading, station_class

    ocpp.messages.ASYNC_VALIDATION = False
    stations = [station_class(V16 if i % 2 == 0 else V201)(f"{prefix}-{i:05d}", url, KEY, validate=False)
                for i in range(n)]
    gate = asyncio.Semaphore(300)
    connected: set[str] = set()
    load = {"on": False}

    async def keep_connected(s) -> None:
        delay = 0.2
        while True:
            try:
                async with gate:
                    await s.connect()
                    await s.boot()
                    await s.status(1, "Available")
                connected.add(s.station_id)
                delay = 0.2
                while s.connected:
                    if load["on"]:
                        await asyncio.sleep(random.expovariate(load["rate"]))
                        if load["on"]:
                            await s.meter(1, None, MeterReading(random.randint(0, 10**7), 11000.0, 16.0))
                    else:
                        await asyncio.sleep(0.2)
            except Exception:  # noqa: BLE001
                pass
            connected.discard(s.station_id)
            await s.close()
            await asyncio.sleep(delay * random.random())
            delay = min(delay * 2, 2.0)

    tasks = [asyncio.create_task(keep_connected(s)) for s in stations]  # noqa: F841

    async def report() -> None:
        while True:
            print(json.dumps({"connected": len(connected)}), flush=True)
            await asyncio.sleep(0.25)

    reporter = asyncio.create_task(report())  # noqa: F841
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            os._exit(0)
        if line[0] == "load":
            seconds, rate = float(line[1]), float(line[2])
            for s in stations:
                s.latencies.clear()
            load.update(on=True, rate=rate)
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            load["on"] = False
            elapsed = time.monotonic() - t0
            lat = sorted(x for s in stations for x in s.latencies)
            print(json.dumps({"result": {"messages": len(lat), "elapsed": elapsed, "p50": _pct(lat, 0.5),
                                         "p95": _pct(lat, 0.95), "p99": _pct(lat, 0.99)}}), flush=True)


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000


# ---------------------------------------------------------------- orchestration ---------------
class Sim:
    def __init__(self, url: str, n: int, prefix: str):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--role", "sim", "--url", url, "--stations", str(n), "--prefix", prefix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=raise_nofile)
        self.connected = 0
        self.result: dict | None = None

    def read_until(self, pred, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                return False
            msg = json.loads(line)
            self.connected = msg.get("connected", self.connected)
            self.result = msg.get("result", self.result)
            if pred():
                return True
        return False

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


def start_gateway(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_nofile)


def wait_ready(health: int, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{health}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("gateway not ready")


async def publish_credentials(settings, prefix: str, n: int) -> None:
    from libs.catalog.credentials import hash_key
    from libs.catalog.models import CredentialRecord
    from libs.events.admin import apply_topics
    from libs.events.envelope import Source
    from libs.events.producer import EventProducer
    from libs.events.reference import CredentialPublished

    await apply_topics(settings)
    now = datetime.now(UTC)
    hashed = hash_key(KEY)
    async with EventProducer(settings, client_id="bench") as producer:
        await producer.send_many([CredentialPublished.create(
            payload=CredentialRecord(record_key=f"{prefix}-{i:05d}/catalog", owner="catalog", last_updated=now,
                                     station_id=f"{prefix}-{i:05d}", security_profile=2,
                                     authorization_key_hash=hashed),
            source=Source.CATALOG, received_at=now) for i in range(n)])


async def delete_topics(settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", default="bench")
    ap.add_argument("--stations", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=None, help="MeterValues per station per second")
    ap.add_argument("--target-rps", default="600",
                    help="total CALLs/s when --rate is not given; comma-separated for several load phases")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--bootstrap", default="127.0.0.1:19092")
    ap.add_argument("--url")
    ap.add_argument("--prefix", default="BENCH")
    args = ap.parse_args()
    if args.role == "sim":
        raise_nofile()
        asyncio.run(simulator(args.url, args.stations, args.prefix))
        return

    from libs.events.bus import KafkaSettings

    n = args.stations
    rates = [args.rate] if args.rate else [float(t) / n for t in args.target_rps.split(",")]
    settings = KafkaSettings(bootstrap=args.bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    asyncio.run(publish_credentials(settings, args.prefix, n))
    port, health = free_port(), free_port()
    spool = Path(f"/tmp/voltstream-bench-{uuid.uuid4().hex[:6]}")
    env = {**os.environ, "VOLTSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap,
           "VOLTSTREAM_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
           "VOLTSTREAM_GATEWAY_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_PORT": str(port),
           "VOLTSTREAM_GATEWAY_HEALTH_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_HEALTH_PORT": str(health),
           "VOLTSTREAM_GATEWAY_SPOOL_DIR": str(spool), "VOLTSTREAM_GATEWAY_INSTANCE_ID": "bench-gw",
           "VOLTSTREAM_GATEWAY_DRAIN_SECONDS": "0", "VOLTSTREAM_GATEWAY_RATE_LIMIT_PER_SECOND": "1000"}
    gw = start_gateway(env)
    sim = None
    try:
        wait_ready(health)
        rss0 = rss_mb(gw.pid)
        sim = Sim(f"ws://127.0.0.1:{port}/ocpp", n, args.prefix)
        t0 = time.monotonic()
        sim.read_until(lambda: sim.connected >= n, 600)
        connect_all = time.monotonic() - t0
        held = sim.connected
        time.sleep(2)
        rss1 = rss_mb(gw.pid)
        bpid = broker_pid(args.bootstrap.rsplit(":", 1)[1])
        phases = []
        for rate in rates:
            sim.result = None
            m0 = gateway_metrics(health)
            cpu0 = (cpu_seconds(gw.pid), cpu_seconds(sim.proc.pid), cpu_seconds(bpid) if bpid else 0.0)
            sim.send(f"load {args.load_seconds} {rate}")
            sim.read_until(lambda: sim.result is not None, args.load_seconds + 120)
            cpu1 = (cpu_seconds(gw.pid), cpu_seconds(sim.proc.pid), cpu_seconds(bpid) if bpid else 0.0)
            m1 = gateway_metrics(health)
            phases.append((rate, sim.result, [b - a for a, b in zip(cpu0, cpu1, strict=True)],
                           {k: m1[k] - m0[k] for k in m0} | {"spool_events_now": m1["voltstream_gateway_spool_events"]}))
            time.sleep(2)
        # restart: SIGKILL the gateway, start a new one, time until every station is back
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        sim.read_until(lambda: sim.connected < n * 0.05, 60)
        gw = start_gateway(env)
        t_restart = time.monotonic()
        wait_ready(health)
        ready_after = time.monotonic() - t_restart
        sim.read_until(lambda: sim.connected >= n, 600)
        reconnect = time.monotonic() - t_restart

        print(f"stations                    {n} ({n // 2 + n % 2} OCPP 1.6, {n // 2} OCPP 2.0.1), auth Basic")
        print(f"connections held            {held}   (initial connect+boot of all: {connect_all:.1f} s)")
        print(f"gateway RSS                 {rss0:.0f} MB idle, {rss1:.0f} MB with {held} connections"
              f" -> {(rss1 - rss0) / max(held, 1) * 1000:.1f} MB per 1,000 connections")
        for rate, r, cpu, m in phases:
            wall = r["elapsed"]
            print(f"--- offered load            {rate * n:.0f} MeterValues/s ({rate:.3f}/station/s), {wall:.0f} s")
            print(f"OCPP messages/s answered    {r['messages'] / wall:.0f}")
            print(f"CALL->CALLRESULT latency    p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  p99 {r['p99']:.1f} ms"
                  "  (includes the Kafka ack)")
            print(f"CPU during load (cores)     gateway {cpu[0] / wall:.2f}  simulator {cpu[1] / wall:.2f}  "
                  f"broker {cpu[2] / wall:.2f}" + ("" if bpid else " (broker pid not found)"))
            print(f"gateway CPU per CALL        {cpu[0] / max(r['messages'], 1) * 1e6:.0f} us"
                  f"  -> {r['messages'] / max(cpu[0], 1e-9):.0f} calls/s per gateway core")
            events, spooled = m["voltstream_gateway_events_total"], m["voltstream_gateway_events_spooled_total"]
            print(f"events                      {events:.0f} ({spooled:.0f} through the spool, "
                  f"{m['spool_events_now']:.0f} still spooled);  CALLERRORs {m['voltstream_gateway_call_errors_total']:.0f};"
                  f"  frames dropped {m['voltstream_gateway_frames_dropped_total']:.0f}")
        print(f"restart: ready after        {ready_after:.1f} s;  all {n} stations reconnected after {reconnect:.1f} s")
    finally:
        if sim:
            sim.send("quit")
            sim.proc.wait(30)
        if gw.poll() is None:
            gw.terminate()
            gw.wait(30)
        asyncio.run(delete_topics(settings))


if __name__ == "__main__":
    main()
