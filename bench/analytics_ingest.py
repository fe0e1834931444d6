"""Sustained meter rows/s from Kafka into ClickHouse through the analytics sink.

Produces N meter.sampled events to a fresh topic prefix, then starts the sink (embedded chdb in
a temporary store) and measures from its start until every row is in `meter_values`.

    python bench/analytics_ingest.py --bootstrap 127.0.0.1:19092 --rows 200000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from libs.events.admin import apply_topics  # noqa: E402
from libs.events.bus import KafkaSettings  # noqa: E402
from libs.events.producer import EventProducer  # noqa: E402
from libs.events.transactions import MeterSampled  # noqa: E402
from services.analytics.app import AnalyticsService  # noqa: E402
from services.analytics.settings import AnalyticsSettings  # noqa: E402

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def events(n: int, stations: int):
    for i in range(n):
        when = T0 + timedelta(seconds=i // stations)
        yield MeterSampled.create(
            payload={"evse_id": 1, "transaction_ref": "tx", "value": float(i), "unit": "Wh",
                     "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic"},
            source="ocpp1.6", station_id=f"CS{i % stations:04d}", occurred_at=when,
            received_at=when + timedelta(seconds=1),
        )


async def main(args: argparse.Namespace) -> None:
    kafka = KafkaSettings(bootstrap=args.bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
                          station_partitions=args.partitions, other_partitions=1)
    await apply_topics(kafka)
    started = time.perf_counter()
    async with EventProducer(kafka, linger_ms=20) as producer:
        chunk: list = []
        for event in events(args.rows, args.stations):
            chunk.append(event)
            if len(chunk) == 20_000:
                await producer.send_many(chunk)
                chunk = []
        if chunk:
            await producer.send_many(chunk)
    print(f"produced {args.rows} meter events in {time.perf_counter() - started:.1f}s")

    with tempfile.TemporaryDirectory() as store:
        settings = AnalyticsSettings(clickhouse_dsn=f"chdb://{store}", batch_rows=args.batch_rows,
                                     batch_wait_ms=1000, health_host="127.0.0.1", health_port=0,
                                     query_endpoint=False)
        service = AnalyticsService(settings, kafka)
        await service.start()
        t0 = time.perf_counter()
        count = 0
        while count < args.rows:
            await asyncio.sleep(0.2)
            count = await service.engine.write(
                lambda c: c.command(f"SELECT count() FROM {settings.database}.meter_values"))
        elapsed = time.perf_counter() - t0
        await service.stop()
    print(f"ingested {args.rows} meter rows in {elapsed:.1f}s: {args.rows / elapsed:,.0f} rows/s "
          f"(Kafka -> decode -> rows -> clickhouse-connect insert -> commit, batch {args.batch_rows})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    asyncio.run(main(parser.parse_args()))
