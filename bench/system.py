"""System benchmark: the whole network as real processes (tests/e2e/system.py), a fleet of
simulated stations charging back-to-back sessions for a while, measured from the outside.

- sustained charging sessions per hour: sessions whose CDR OCPI served, per hour of the run;
- meter samples per second through to ClickHouse: samples sent / (last sample ClickHouse holds
  - first sample sent), and the offered rate for comparison;
- stop -> CDR latency: charger's StopTransaction / TransactionEvent Ended answered -> the CDR is
  served by OCPI, reported as the configured finality grace + the time after it (p50 / p99), two
  ways: pushed (the CDR's POST reaches the test eMSP's Receiver endpoint: how a partner gets it) and
  pulled (GET /cdrs by an eMSP polling every second with date_from, so up to 1 s of it is the poll).
Appends the figures and the machine description to bench/RESULTS.md.

    python bench/system.py --bootstrap 127.0.0.1:19092 --stations 20 --duration 120
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from libs.events.admin import apply_topics  # noqa: E402
from libs.events.bus import KafkaSettings  # noqa: E402
from tests.e2e import catalog as cat  # noqa: E402
from tests.e2e.driver import Charger  # noqa: E402
from tests.e2e.invariants import key, parse_dt  # noqa: E402
from tests.e2e.system import System  # noqa: E402
from tests.e2e.test_system import apply_catalog  # noqa: E402
from tests.integration.ocpi.emsp_app import Emsp  # noqa: E402


def machine() -> str:
    model = "unknown"
    mem = "unknown"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return f"nproc {os.cpu_count()}, memory {mem}, CPU {model}, {platform.system()} {platform.release()}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


async def _first_timestamps(kafka: KafkaSettings, topic: str, wanted) -> dict[str, int]:
    """session id -> broker timestamp (ms) of the first record on `topic` for which wanted(event)."""
    from aiokafka import AIOKafkaConsumer

    from libs.events.codec import decode

    consumer = AIOKafkaConsumer(kafka.topics().name(topic), bootstrap_servers=kafka.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: dict[str, int] = {}
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                for r in records:
                    if r.value is not None and wanted(event := decode(r.value)):
                        out.setdefault(event.payload.session_id, r.timestamp)
    finally:
        await consumer.stop()
    return out


def pushed_cdrs(emsp: Emsp) -> dict[tuple, tuple[str, float]]:
    """session key -> (session id, monotonic arrival) of the first CDR POSTed to the eMSP for it."""
    pushed: dict[tuple, tuple[str, float]] = {}
    for r in emsp.received:
        if r.method == "POST" and r.path.endswith("/cdrs") and r.body and not r.body.get("credit"):
            k = key(r.body["cdr_location"]["evse_uid"], parse_dt(r.body["start_date_time"]))
            pushed.setdefault(k, (r.body["session_id"], r.at))
    return pushed


async def stage_split(kafka: KafkaSettings, pushed: dict, stop_wall: dict, grace: float) -> dict:
    """Where the time after the grace goes, from the records' broker timestamps: the sessions
    service publishing the final version, billing producing the CDR, OCPI pushing it."""
    final_at = await _first_timestamps(kafka, "sessions", lambda e: getattr(e.payload, "final", False))
    cdr_at = await _first_timestamps(kafka, "cdrs", lambda e: not e.payload.credit)
    wall = time.time() - time.monotonic()  # monotonic -> epoch seconds
    finality, billing, ocpi = [], [], []
    for k, (sid, at) in pushed.items():
        if k in stop_wall and sid in final_at and sid in cdr_at:
            finality.append(final_at[sid] / 1000 - (stop_wall[k] + wall) - grace)
            billing.append((cdr_at[sid] - final_at[sid]) / 1000)
            ocpi.append(at + wall - cdr_at[sid] / 1000)
    return {name: (round(pct(v, 50), 2), round(pct(v, 99), 2)) for name, v in
            (("finality", finality), ("billing", billing), ("ocpi_push", ocpi)) if v}


async def run(args) -> dict:
    kafka = KafkaSettings(bootstrap=args.bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
                          station_partitions=args.partitions, other_partitions=1)
    await apply_topics(kafka)
    work = Path(tempfile.mkdtemp(prefix="voltstream-bench-system-"))
    specs = cat.stations(args.stations, prefix="BEN")
    await apply_catalog(kafka, cat.write_catalog(work / "catalog.yaml", specs))
    system = System(kafka, work / "system", finality_grace_s=args.grace).build()
    emsp = Emsp()
    chargers: list[Charger] = []
    try:
        await system.start()
        await emsp.start()
        reply = await emsp.register_with_cpo(system.versions_url, await system.invite_partner("bench"))
        assert reply["status_code"] == 1000, reply
        chargers = [Charger(s, system.ocpp_urls, meter_interval=args.meter_interval) for s in specs]
        await asyncio.gather(*(c.connect_and_boot() for c in chargers))
        stop_wall: dict[tuple, float] = {}  # session key -> monotonic time the stop was answered
        seen: dict[tuple, float] = {}
        t_begin = time.monotonic()
        deadline = t_begin + args.duration

        async def station(c: Charger, i: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                s = await c.run_session(cat.TAGS[(i + n) % 2], samples=args.samples)
                stop_wall[key(s.evse_uid, s.start)] = s.stop_answered
                n += 1

        async def poll_cdrs() -> None:
            # A CDR's last_updated (billing's clock) precedes its serving, but not in serving order:
            # ask for everything updated in the last minute, far more than the pipeline's lag.
            while True:
                since = datetime.now(UTC) - timedelta(seconds=60)
                try:
                    items, _ = await emsp.pull_all(
                        "cdrs", limit=100, params={"date_from": since.strftime("%Y-%m-%dT%H:%M:%SZ")})
                except (httpx.HTTPError, KeyError, ValueError) as exc:  # refused under load: poll again
                    print(f"[bench] cdr poll failed: {exc!r}", file=sys.stderr)
                    items = []
                now = time.monotonic()
                for c in items:
                    seen.setdefault(key(c["cdr_location"]["evse_uid"], parse_dt(c["start_date_time"])), now)
                await asyncio.sleep(1.0)

        poller = asyncio.create_task(poll_cdrs())
        await asyncio.gather(*(station(c, i) for i, c in enumerate(chargers)))
        t_fleet_done = time.monotonic()
        sent = [s for c in chargers for s in c.sessions]
        samples = sum(c.samples_sent for c in chargers)
        async with asyncio.timeout(args.grace + 300):
            while len(seen) < len(sent):
                system.check_alive()
                if poller.done():
                    poller.result()
                await asyncio.sleep(0.25)
            while True:
                rows = await system.query("SELECT count() FROM meter_values FINAL")
                if int(rows[0][0]) >= samples:
                    t_ch = time.monotonic()
                    break
                await asyncio.sleep(0.25)
        poller.cancel()
        t_cdrs_done = max(seen.values())
        after = [seen[k] - stop_wall[k] - args.grace for k in stop_wall if k in seen]
        pushed = pushed_cdrs(emsp)
        after_push = [pushed[k][1] - stop_wall[k] - args.grace for k in stop_wall if k in pushed]
        stages = await stage_split(kafka, pushed, stop_wall, args.grace)
        hours = (t_cdrs_done - t_begin) / 3600
        return {
            "stations": args.stations, "duration_s": round(t_fleet_done - t_begin, 1), "sessions": len(sent),
            "sessions_per_hour": round(len(sent) / hours), "samples": samples,
            "samples_per_s_offered": round(samples / (t_fleet_done - t_begin), 1),
            "samples_per_s_to_clickhouse": round(samples / (t_ch - t_begin), 1),
            "grace_s": args.grace, "after_grace_p50_s": round(pct(after, 50), 2),
            "after_grace_p99_s": round(pct(after, 99), 2), "after_grace_max_s": round(max(after), 2),
            "mean_after_grace_s": round(statistics.fmean(after), 2),
            "pushed": len(after_push), "push_after_grace_p50_s": round(pct(after_push, 50), 2),
            "push_after_grace_p99_s": round(pct(after_push, 99), 2), "stages": stages,
        }
    finally:
        await asyncio.gather(*(c.close() for c in chargers), return_exceptions=True)
        if emsp._task is not None:
            await emsp.stop()
        await asyncio.to_thread(system.stop)
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(kafka.topic_prefix)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("VOLTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds the fleet starts sessions")
    parser.add_argument("--samples", type=int, default=8, help="meter values per session")
    parser.add_argument("--meter-interval", type=float, default=1.0)
    parser.add_argument("--grace", type=float, default=4.0, help="sessions finality grace (s)")
    parser.add_argument("--partitions", type=int, default=2, help="station-keyed partitions")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    r = asyncio.run(run(args))
    lines = [
        f"\n## bench/system.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()} (shared; all five services, two gateway replicas, Kafka, the fleet and "
        "the eMSP on it)",
        f"- load: {r['stations']} stations (half OCPP 1.6, half 2.0.1), back-to-back sessions of {args.samples} "
        f"meter values every {args.meter_interval} s, {r['duration_s']} s; finality grace {r['grace_s']} s",
        f"- sustained sessions: {r['sessions']} sessions -> **{r['sessions_per_hour']} sessions/hour**",
        f"- meter samples to ClickHouse: {r['samples']} samples, **{r['samples_per_s_to_clickhouse']}/s** "
        f"end to end (offered {r['samples_per_s_offered']}/s)",
        f"- stop -> CDR pushed to the eMSP: grace {r['grace_s']} s + **p50 {r['push_after_grace_p50_s']} s / p99 "
        f"{r['push_after_grace_p99_s']} s** ({r['pushed']} CDRs)",
        f"- stop -> CDR pulled from OCPI /cdrs: grace {r['grace_s']} s + p50 {r['after_grace_p50_s']} s / p99 "
        f"{r['after_grace_p99_s']} s (max {r['after_grace_max_s']} s; includes up to 1 s of eMSP polling)",
        "- after the grace, per stage (p50 / p99 s, from broker timestamps): "
        + ", ".join(f"{name} {p50} / {p99}" for name, (p50, p99) in r["stages"].items()),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.results.exists():
        args.results.write_text("# Benchmark results\n")
    with args.results.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
