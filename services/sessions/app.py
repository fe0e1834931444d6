"""faust wiring: one agent over the station-keyed inputs, two tables, a finality timer, web routes.

- Agent `process` reads transaction-events, meter-values, station-events and commands (all keyed
  by station, one partition count: co-partitioned), in batches. Per batch it decodes, absorbs the
  facts (services.sessions.processor), writes changed states to the tables and publishes every
  touched session to the compacted `sessions` topic, then waits for the acks before the batch's
  offsets can be committed (at-least-once in, idempotent out).
- Tables `session-state` (station/transaction_ref -> state) and `station-state` (station -> boots,
  remote starts, auth decisions, its recent sessions), each with a changelog topic. Writes go to
  the changelog partition of the station's input partition, so a partition moves with its state.
- Timer `finalize`: a COMPLETED session with nothing new for `finality_grace_s` becomes final.
- Catalog: the worker follows the compacted reference topics with CatalogIndex (in memory) and
  processes nothing before it caught up.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.codec import DecodeError, decode
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.sessions import SessionUpdated
from services.sessions import state as sm
from services.sessions.enrichment import Enricher
from services.sessions.facts import to_fact
from services.sessions.processor import Batch
from services.sessions.projection import project
from services.sessions.settings import SessionsSettings

log = structlog.get_logger("sessions")
INPUTS = ("transaction-events", "meter-values", "station-events", "commands")
SERVICE = "sessions"

EVENTS = Counter("voltstream_sessions_events_total", "Input records by outcome", ["outcome"])
PUBLISHED = Counter("voltstream_sessions_published_total", "Session versions published")
FINALIZED = Counter("voltstream_sessions_finalized_total", "Sessions that became final")
PENDING = Gauge("voltstream_sessions_pending_finality", "Completed sessions waiting for finality")


def _credentials(kafka: KafkaSettings) -> Any:
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username, password=kafka.sasl_password, mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=kafka.client_kwargs().get("ssl_context"),
        )
    if kafka.security_protocol == "SSL":
        return kafka.client_kwargs().get("ssl_context") or ssl.create_default_context()
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


class SessionsApp:
    """Builds the faust app; holds the catalog index and the finality index."""

    def __init__(self, settings: SessionsSettings, kafka: KafkaSettings):
        self.settings, self.kafka = settings, kafka
        self.topics = kafka.topics()
        partitions = self.topics.partitions("transaction-events")
        self.index = CatalogIndex()
        self.enricher = Enricher(self.index, settings.operator_country_code, settings.operator_party_id,
                                 settings.default_currency)
        self.catalog_started = asyncio.Event()
        # Session records and dead letters go through the shared EventProducer (acks=all, idempotent,
        # batched): one ack wait per batch instead of faust's per-message send path.
        self.producer: EventProducer | None = None  # created on the worker's loop
        self.joined = False  # set once the group gave this worker its partitions
        self.pending: dict[str, int] = {}  # session key -> due (gateway-clock ms)
        self._pending_parts: frozenset[int] | None = None
        self.app = app = faust.App(
            f"{kafka.topic_prefix}{settings.app_id}",
            broker=[f"kafka://{b.strip()}" for b in kafka.bootstrap.split(",")],
            broker_credentials=_credentials(kafka),
            store=settings.store,
            datadir=settings.data_dir,
            topic_partitions=partitions,
            topic_replication_factor=kafka.replication_factor,
            table_standby_replicas=0,
            producer_acks=-1,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
            broker_rebalance_timeout=max(settings.session_timeout_s, 10.0),
            web_enabled=True,
            web_port=settings.web_port,
            web_bind=settings.web_host,
        )
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
        self.source_names = [self.topics.name(t) for t in INPUTS]
        self.source = app.topic(*self.source_names, **raw)
        schema = faust.Schema(key_type=str, value_type=bytes, key_serializer="json", value_serializer="raw")
        table = {"schema": schema, "key_type": str, "value_type": bytes, "partitions": partitions}
        self.session_table = app.Table("session-state", **table)
        self.station_table = app.Table("station-state", **table)

        app.agent(self.source, name="process")(self._process)
        app.timer(settings.finality_check_interval_s)(self._finalize)
        app.task(self._follow_catalog)
        app.on_before_shutdown.connect(self._on_shutdown)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.page("/healthz")(self._healthz)
        app.page("/readyz")(self._readyz)
        app.page("/metrics")(self._metrics)

    # --- catalog -----------------------------------------------------------------------------
    async def _follow_catalog(self) -> None:
        self.producer = EventProducer(self.kafka, client_id=f"{self.kafka.topic_prefix}{self.settings.app_id}")
        await self.producer.start()
        await self.index.follow(self.kafka)
        self.catalog_started.set()
        await self.index.wait_caught_up()
        log.info("catalog_caught_up")

    async def _on_assigned(self, app: Any, assigned: Any = None, **kwargs: Any) -> None:
        self.joined = True

    async def _on_shutdown(self, app: Any, **kwargs: Any) -> None:
        await self.index.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def _catalog_ready(self) -> None:
        await self.catalog_started.wait()
        await self.index.wait_caught_up()

    def ready(self) -> dict[str, bool]:
        return {
            "catalog": self.index.caught_up,
            "joined_group": self.joined,
            "tables_recovered": self.app.tables.recovery.completed.is_set(),
            "not_rebalancing": not self.app.rebalancing,
        }

    # --- state access ------------------------------------------------------------------------
    @staticmethod
    def _loader(table: faust.Table):
        def load(key: str) -> dict[str, Any] | None:
            raw = table.data.get(key)
            return orjson.loads(raw) if raw is not None else None
        return load

    def _write(self, table: faust.Table, key: str, value: dict[str, Any]) -> None:
        raw = orjson.dumps(value)
        table.data[key] = raw
        table.send_changelog(value["p"], key, raw)

    def _track_finality(self, key: str, state: dict[str, Any]) -> None:
        due = sm.finality_due(state, self.settings.reboot_policy, self.settings.finality_grace_s)
        if due is None:
            self.pending.pop(key, None)
        else:
            self.pending[key] = due
        PENDING.set(len(self.pending))

    async def _publish(self, states: list[dict[str, Any]]) -> None:
        futures = []
        received = datetime.now(UTC)
        for state in states:
            try:
                session = project(state, self.enricher, self.settings.reboot_policy)
            except Exception:  # a bug for one session must not stop the others
                log.exception("projection_failed", session_key=state["key"])
                continue
            if session is None:
                continue
            event = SessionUpdated.create(payload=session, source=Source.SESSIONS,
                                          occurred_at=session.last_updated, received_at=received)
            futures.append(await self.producer.enqueue(event))
        if futures:
            await asyncio.gather(*futures)
            PUBLISHED.inc(len(futures))

    async def _dead_letter(self, message: Any, reason: str, error: str) -> None:
        headers = [
            ("dlq.reason", reason.encode()), ("dlq.error", error[:2000].encode()),
            ("dlq.topic", message.topic.encode()), ("dlq.partition", str(message.partition).encode()),
            ("dlq.offset", str(message.offset).encode()), ("dlq.service", SERVICE.encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer.send_raw(self.topics.dlq(SERVICE), message.key, message.value, headers)
        EVENTS.labels(f"dlq_{reason}").inc()
        log.warning("dead_letter", reason=reason, error=error[:300], topic=message.topic,
                    partition=message.partition, offset=message.offset)

    # --- the agent ---------------------------------------------------------------------------
    async def _process(self, stream) -> None:
        # iterate from the start (faust sets the take buffer up on first iteration); enrichment
        # needs the catalog, so the first batch waits for it
        async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_within_s):
            await self._catalog_ready()
            log.debug("batch", size=len(events))
            await self.handle([e.message for e in events])

    async def handle(self, messages: list[Any]) -> None:
        """Absorb a batch, write what changed, publish touched sessions, then dead-letter the rest.

        Nothing is awaited between loading states and writing them back, so the finality timer
        never interleaves with a half-applied batch.
        """
        batch = Batch(self.settings, self._loader(self.session_table), self._loader(self.station_table))
        dead: list[tuple[Any, str, str]] = []
        for message in messages:
            if message.value is None:
                continue
            try:
                event = decode(message.value)
            except DecodeError as exc:
                dead.append((message, exc.reason, exc.detail))
                continue
            try:
                fact = to_fact(event)
                if fact is None:
                    EVENTS.labels("ignored").inc()
                    continue
                batch.add(fact, message.partition)
                EVENTS.labels("absorbed").inc()
            except Exception as exc:  # never kill the worker on one bad record
                log.exception("fact_failed", topic=message.topic, offset=message.offset)
                dead.append((message, "processing_error", repr(exc)))
        for key in batch.dirty_sessions:
            state = batch.sessions[key]
            self._write(self.session_table, key, state)
            self._track_finality(key, state)
        for station_id in batch.dirty_stations:
            self._write(self.station_table, station_id, batch.stations[station_id])
        await self._publish([batch.sessions[k] for k in sorted(batch.touched)])
        for message, reason, error in dead:
            await self._dead_letter(message, reason, error)

    # --- finality ----------------------------------------------------------------------------
    def _active_partitions(self) -> frozenset[int]:
        name = self.source_names[0]
        return frozenset(tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == name)

    async def _finalize(self) -> None:
        if not all(self.ready().values()):
            return
        parts = self._active_partitions()
        if parts != self._pending_parts:  # (re)assigned: rebuild the finality index from the table
            self._pending_parts = parts
            self.pending.clear()
            for key, raw in list(self.session_table.data.items()):
                state = orjson.loads(raw)
                if state["p"] in parts:
                    self._track_finality(key, state)
        now = now_ms()
        finalized = []
        for key, due in sorted(self.pending.items()):
            if due > now:
                continue
            state = self._loader(self.session_table)(key)
            self.pending.pop(key, None)
            if state is None or state["p"] not in parts:
                continue
            due = sm.finality_due(state, self.settings.reboot_policy, self.settings.finality_grace_s)
            if due is None or due > now:
                if due is not None:
                    self.pending[key] = due
                continue
            sm.finalize(state, due)
            self._write(self.session_table, key, state)
            finalized.append(state)
        PENDING.set(len(self.pending))
        if finalized:
            FINALIZED.inc(len(finalized))
            await self._publish(finalized)

    # --- web ---------------------------------------------------------------------------------
    async def _healthz(self, request):
        return self.app.web.json({"status": "ok"})

    async def _readyz(self, request):
        checks = self.ready()
        ok = all(checks.values())
        return self.app.web.json({"ready": ok, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, request):
        return self.app.web.bytes(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4")


def create_app(settings: SessionsSettings | None = None, kafka: KafkaSettings | None = None) -> SessionsApp:
    return SessionsApp(settings or SessionsSettings(), kafka or KafkaSettings())


def run(settings: SessionsSettings | None = None, kafka: KafkaSettings | None = None) -> None:
    """Run one worker until SIGTERM / SIGINT (faust drains, flushes and commits on the way out)."""
    from libs.service.logging import configure_logging

    settings = settings or SessionsSettings()
    configure_logging(SERVICE, settings.log_level)
    service = create_app(settings, kafka)
    worker = faust.Worker(service.app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
