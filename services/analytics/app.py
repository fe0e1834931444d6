"""Wiring: migrations, the engine, the batching sink on EventConsumer, health, query endpoint."""

from __future__ import annotations

import asyncio
import gc

import structlog

from libs.events.bus import KafkaSettings
from libs.events.consumer import EventConsumer
from libs.events.producer import EventProducer
from libs.service.health import HealthServer
from services.analytics.engine import Engine
from services.analytics.fastmeter import decode_fast
from services.analytics.migrations import migrate
from services.analytics.query_endpoint import QueryEndpoint
from services.analytics.rows import TOPICS
from services.analytics.settings import AnalyticsSettings
from services.analytics.sink import Sink

log = structlog.get_logger("analytics")


class AnalyticsService:
    name = "analytics"

    def __init__(self, settings: AnalyticsSettings | None = None, kafka: KafkaSettings | None = None,
                 *, group_id: str | None = None):
        self.settings = settings or AnalyticsSettings()
        self.kafka = kafka or KafkaSettings()
        self.engine = Engine(self.settings.dsn, self.settings.database,
                             query_max_execution_s=self.settings.query_max_execution_s)
        self.sink = Sink(self.engine, self.settings.database)
        self.producer = EventProducer(self.kafka, client_id="voltstream-analytics")
        self.consumer = EventConsumer(
            self.kafka, service="analytics", topics=list(TOPICS), handler=self.sink.handle,
            producer=self.producer, group_id=group_id,
            max_records=self.settings.batch_rows,
            batch_records=self.settings.batch_rows, batch_wait_ms=self.settings.batch_wait_ms,
            decoder=decode_fast,  # meter.sampled straight to its row; everything else decoded in full
            # large fetches: the default 1 MiB per partition (~2,000 meter events) made the sink
            # wait on many small fetches to fill a 50k batch
            fetch_kwargs={"max_partition_fetch_bytes": 8 << 20, "fetch_max_bytes": 64 << 20},
        )
        self.health = HealthServer(self.settings.health_host, self.settings.health_port)
        self.query = (QueryEndpoint(self.engine, self.settings.query_host, self.settings.query_port)
                      if self.settings.serve_queries else None)
        self._task: asyncio.Task | None = None
        self._migrated = False

    async def start(self) -> None:
        # A batch is ~50k decoded rows (a few hundred thousand young objects, none cyclic): at the
        # default threshold (700) the collector re-scans the batch in hand over and over, which
        # cost as much CPU as decoding it. Collect young objects per ~100k allocations instead.
        gc.set_threshold(100_000, 50, 100)
        applied = await self.engine.write(
            lambda c: migrate(c, self.settings.migrations_dir, self.settings.template_values()))
        self._migrated = True
        log.info("schema_ready", applied=[m.version for m in applied])
        self.health.add_check("schema", lambda: self._migrated)
        self.health.add_check("consuming", lambda: self._task is not None and not self._task.done())
        await self.health.start()
        if self.query:
            await self.query.start()
        await self.producer.start()
        await self.consumer.start()
        self._task = asyncio.create_task(self.consumer.run(), name="analytics-consumer")

    async def stop(self) -> None:
        """Stop polling, insert and commit the batch in hand, then close everything."""
        await self.consumer.stop()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=60)
            except TimeoutError:
                self._task.cancel()
        if self.query:
            await self.query.stop()
        await self.producer.stop()
        await self.health.stop()
        await asyncio.to_thread(self.engine.close)
