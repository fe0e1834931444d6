"""Session service throughput: events/s one worker sustains.

    python bench/sessions_throughput.py [--bootstrap 127.0.0.1:19092] [--stations 400] [--sessions 3]

1. core: the pure state machine + projection (what the agent runs per batch), in-process.
2. worker: a real `python -m services.sessions` worker on a fresh topic prefix. The stream is
   produced first; the clock runs from the worker's first published session to the moment every
   session reached its final version (startup and group join are excluded).
Topics of the run are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from libs.events.admin import apply_topics  # noqa: E402
from libs.events.bus import KafkaSettings  # noqa: E402
from services.sessions.enrichment import Enricher  # noqa: E402
from services.sessions.facts import to_fact  # noqa: E402
from services.sessions.processor import Batch  # noqa: E402
from services.sessions.projection import project  # noqa: E402
from services.sessions.settings import SessionsSettings  # noqa: E402
from tests.integration.sessions.harness import SessionsReader, Worker, publish, replay  # noqa: E402
from tests.integration.sessions.streams import Charger, standard_session  # noqa: E402


def fleet(stations: int, sessions: int) -> list:
    events = []
    for i in range(stations):
        c = Charger(f"B-{i:05d}", "1.6" if i % 2 else "2.0.1")
        for n in range(sessions):
            events += standard_session(c, token=f"T{i}-{n}", start=70.0 * n, meter0=10_000 + 7000 * n)[1]
    return sorted(events, key=lambda e: (e.occurred_at, e.station_id))


def bench_core(events: list, batch_size: int = 2000) -> float:
    from libs.catalog.index import CatalogIndex
    from libs.events.codec import decode, encode

    settings = SessionsSettings()
    enricher = Enricher(CatalogIndex(), "DE", "VST", "EUR")
    raw = [encode(e) for e in events]
    sessions: dict = {}
    stations: dict = {}
    started = time.perf_counter()
    for i in range(0, len(raw), batch_size):
        batch = Batch(settings, sessions.get, stations.get)
        for data in raw[i:i + batch_size]:
            fact = to_fact(decode(data))
            if fact is not None:
                batch.add(fact, 0)
        sessions.update(batch.sessions)
        stations.update(batch.stations)
        for key in batch.touched:
            project(batch.sessions[key], enricher, settings.reboot_policy)
    return len(raw) / (time.perf_counter() - started)


async def bench_worker(bootstrap: str, events: list) -> tuple[float, float]:
    settings = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
                             station_partitions=6, other_partitions=1)
    await apply_topics(settings)
    expected = {sid: s.version for sid, s in replay(events).items()}
    tmp = Path(tempfile.mkdtemp(prefix="sessions-bench-"))
    try:
        await publish(settings, events)
        worker = Worker(settings, tmp, "bench", finality_grace_s="3600").start()
        try:
            async with SessionsReader(settings) as reader:
                await reader.wait_for(lambda lt: len(lt) > 0, worker, timeout=180, what="first session")
                first = time.perf_counter()
                await reader.wait_for(lambda lt: all(sid in lt and lt[sid].version >= v for sid, v in expected.items()),
                                      worker, timeout=600, what="all sessions")
                elapsed = time.perf_counter() - first
        finally:
            worker.stop()
        return len(events) / elapsed, elapsed
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
            await admin.delete_topics(names)
        finally:
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--stations", type=int, default=400)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--core-only", action="store_true")
    args = parser.parse_args()
    events = fleet(args.stations, args.sessions)
    print(f"stream: {len(events)} events, {args.stations * args.sessions} sessions")
    print(f"core (decode + state machine + projection): {bench_core(events):,.0f} events/s")
    if not args.core_only:
        rate, elapsed = asyncio.run(bench_worker(args.bootstrap, events))
        print(f"worker (real broker, 6 partitions, one worker): {rate:,.0f} events/s ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
