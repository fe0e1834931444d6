"""Sustained meter rows/s from Kafka into ClickHouse through the analytics sink.

Produces N meter.sampled events to a topic prefix (or reuses one filled by an earlier run with
--prefix), then starts the sink (embedded chdb in a temporary store, a fresh consumer group) and
reports separately:
- startup: migrations, consumer start and the consumer-group join, until partitions are assigned;
- sustained: from the assignment until every row is in `meter_values` (rows/s, and process CPU
  per row: the machine is shared, so CPU time says more than wall-clock about the code).

    python bench/analytics_ingest.py --bootstrap 127.0.0.1:19092 --rows 1000000
    python bench/analytics_ingest.py --bootstrap 127.0.0.1:19092 --rows 1000000 --prefix bench1a2b3c. --profile out.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from libs.events.admin import apply_topics  # noqa: E402
from libs.events.bus import KafkaSettings  # noqa: E402
from libs.events.codec import encode  # noqa: E402
from libs.events.identity import fact_id  # noqa: E402
from libs.events.transactions import MeterSampled  # noqa: E402
from services.analytics.app import AnalyticsService  # noqa: E402
from services.analytics.settings import AnalyticsSettings  # noqa: E402

T0 = datetime(2026, 11, 25, tzinfo=UTC)
PAYLOAD = {"evse_id": 1, "transaction_ref": "tx", "measurand": "Energy.Active.Import.Register",
           "context": "Sample.Periodic", "unit": "Wh"}


def event(i: int, stations: int) -> MeterSampled:
    when = T0 + timedelta(seconds=i // stations)
    return MeterSampled.create(payload={**PAYLOAD, "value": float(i)}, source="ocpp1.6",
                               station_id=f"CS{i % stations:04d}", occurred_at=when,
                               received_at=when + timedelta(seconds=1))


def encoded(i: int, stations: int, template: dict) -> tuple[bytes, bytes]:
    """(key, value) of event(i), byte-identical to encode(event(i)) but without building a model
    (MeterSampled.create costs ~70 us, which made producing the bench data slower than ingesting it)."""
    station = f"CS{i % stations:04d}"
    when = T0 + timedelta(seconds=i // stations)
    doc = {**template, "station_id": station,
           "occurred_at": when.isoformat().replace("+00:00", "Z"),
           "received_at": (when + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
           "payload": {**template["payload"], "value": float(i)}}
    doc["event_id"] = str(fact_id(MeterSampled.TYPE, station, 1, None, "tx", when,
                                  PAYLOAD["measurand"], None, None, PAYLOAD["context"]))
    return station.encode(), orjson.dumps(doc)


async def produce(kafka: KafkaSettings, n: int, stations: int) -> None:
    template = orjson.loads(encode(event(0, stations)))
    for i in (0, n // 2, n - 1):  # the shortcut gives exactly what the model gives
        assert encoded(i, stations, template)[1] == encode(event(i, stations))
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", linger_ms=50, max_batch_size=1 << 20)
    await producer.start()
    try:
        topic = kafka.topics().name(MeterSampled.TOPIC)
        pending = []
        for i in range(n):
            key, value = encoded(i, stations, template)
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 50_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def ingest(kafka: KafkaSettings, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as store:
        settings = AnalyticsSettings(clickhouse_dsn=f"chdb://{store}", batch_rows=args.batch_rows,
                                     batch_wait_ms=1000, health_host="127.0.0.1", health_port=0,
                                     query_endpoint=False)
        service = AnalyticsService(settings, kafka, group_id=f"bench-{uuid.uuid4().hex[:8]}")
        t_start = time.perf_counter()
        await service.start()
        while not service.consumer.assignment():  # noqa: ASYNC110 - the group join, no event for it
            await asyncio.sleep(0.01)
        t0, cpu0 = time.perf_counter(), time.process_time()
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        count = 0
        while count < args.rows:
            await asyncio.sleep(0.05)
            count = await service.engine.write(
                lambda c: c.command(f"SELECT count() FROM {settings.database}.meter_values"))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        await service.stop()
    print(f"startup (migrations, consumer start, group join): {t0 - t_start:.1f}s")
    print(f"sustained: {args.rows} meter rows in {elapsed:.2f}s: {args.rows / elapsed:,.0f} rows/s; "
          f"process CPU {cpu:.2f}s = {cpu / args.rows * 1e6:.1f} us/row "
          f"(Kafka -> decode -> columns -> clickhouse-connect insert -> commit, batch {args.batch_rows})")


async def main(args: argparse.Namespace) -> None:
    prefix = args.prefix or f"bench{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(bootstrap=args.bootstrap, topic_prefix=prefix,
                          station_partitions=args.partitions, other_partitions=1)
    if not args.prefix:
        await apply_topics(kafka)
        started = time.perf_counter()
        await produce(kafka, args.rows, args.stations)
        print(f"produced {args.rows} meter events to {prefix}meter-values in {time.perf_counter() - started:.1f}s "
              f"(reuse with --prefix {prefix})")
    for _ in range(args.repeat):
        await ingest(kafka, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--prefix", help="reuse the topics of an earlier run (holding exactly --rows events)")
    parser.add_argument("--repeat", type=int, default=1, help="ingest runs, each with a fresh group and store")
    parser.add_argument("--profile", help="write a cProfile of the sustained phase (event loop thread) here")
    asyncio.run(main(parser.parse_args()))
