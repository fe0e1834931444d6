"""Wiring of the OCPI adapter: database, read-model consumer, presence view, pusher, HTTP API."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.catalog.index import CatalogIndex
from libs.catalog.presence import PresenceView
from libs.commands.client import CommandsClient
from libs.events.bus import KafkaSettings
from libs.events.consumer import Delivery, EventConsumer
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from services.ocpi.active_sessions import ActiveSessions
from services.ocpi.api.app import create_app
from services.ocpi.client import OcpiClient
from services.ocpi.commands import CommandsReceiver, MarkSent
from services.ocpi.db import create_schema, make_engine, now_naive, sessionmaker
from services.ocpi.metrics import OcpiMetrics
from services.ocpi.pending_commands import create_tables as create_command_tables
from services.ocpi.push import Pusher
from services.ocpi.readmodel import INPUT_TOPICS, ReadModel
from services.ocpi.realtime_auth import RealtimeAuthResponder
from services.ocpi.reservations import create_tables as create_reservation_tables
from services.ocpi.settings import OcpiSettings
from services.ocpi.tokens import PartnerTokens

log = structlog.get_logger("ocpi")
REFERENCE = ("locations", "tariffs")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class CatchUp:
    """Ready once the consumer group has read the reference topics up to their end at start."""

    def __init__(self) -> None:
        self.remaining: dict[tuple[str, int], int] = {}
        self.done = asyncio.Event()

    async def measure(self, kafka: KafkaSettings, group_id: str) -> None:
        consumer = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=group_id, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = []
            for base in REFERENCE:
                name = kafka.topics().name(base)
                tps += [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or
                                                          await _partitions(consumer, name))]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                committed = await consumer.committed(tp) or 0
                if ends[tp] > committed:
                    self.remaining[(tp.topic, tp.partition)] = ends[tp]
        finally:
            await consumer.stop()
        self._check()

    def seen(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            end = self.remaining.get((d.topic, d.partition))
            if end is not None and d.offset + 1 >= end:
                del self.remaining[(d.topic, d.partition)]
        self._check()

    def _check(self) -> None:
        if not self.remaining:
            self.done.set()


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name) or set()


class OcpiService:
    name = "ocpi"

    def __init__(self, settings: OcpiSettings | None = None, kafka: KafkaSettings | None = None):
        self.settings = settings or OcpiSettings()
        self.kafka = kafka or KafkaSettings()
        self.metrics = OcpiMetrics()
        self.engine = make_engine(self.settings.database_url)
        self.sm = sessionmaker(self.engine)
        self.client = OcpiClient(from_country=self.settings.country_code, from_party=self.settings.party_id,
                                 timeout_s=self.settings.push_timeout_s)
        self.presence = PresenceView()
        self.pusher = Pusher(self.sm, self.settings, self.client, self.metrics)
        self.readmodel = ReadModel(self.sm, self.settings, self.metrics, topic_prefix=self.kafka.topic_prefix,
                                   presence=self.presence, on_change=self.pusher.wake)
        self.catchup = CatchUp()
        self.group_id = self.settings.consumer_group or f"{self.kafka.topic_prefix}ocpi"
        self.app = create_app(settings=self.settings, sessionmaker=self.sm, client=self.client,
                              metrics=self.metrics, ready=self.ready)
        self.app.state.pusher = self.pusher
        # receiver side (docs/ocpi-receiver.md): partner tokens, commands, real-time authorisation
        self.catalog = CatalogIndex()
        self.active_sessions = ActiveSessions()
        self.partner_tokens = PartnerTokens(self.catalog)
        self.commands = CommandsReceiver(self.settings, self.catalog, self.active_sessions, self.sm, self.client)
        self.realtime = RealtimeAuthResponder(self.settings, self.kafka, self.catalog, self.sm, self.client)
        self.app.state.partner_tokens = self.partner_tokens
        self.app.state.commands = self.commands
        self._tasks: list[asyncio.Task] = []
        self._producer: EventProducer | None = None
        self._consumer: EventConsumer | None = None
        self._server: _Server | None = None

    def ready(self) -> bool:
        return (self.presence.caught_up and self.catchup.done.is_set() and self.catalog.caught_up
                and self.active_sessions.caught_up)

    async def _handle(self, deliveries: list[Delivery]) -> None:
        await self.readmodel.handle(deliveries)
        self.catchup.seen(deliveries)

    async def start(self) -> None:
        await create_schema(self.engine)
        await self.catchup.measure(self.kafka, self.group_id)
        await self.presence.follow(self.kafka)
        self._producer = EventProducer(self.kafka, client_id="ocpi")
        await self._producer.start()
        await self._start_receiver()
        self._consumer = EventConsumer(self.kafka, service="ocpi", topics=INPUT_TOPICS, handler=self._handle,
                                       producer=self._producer, group_id=self.group_id)
        await self._consumer.start()
        self._tasks.append(asyncio.create_task(self._consumer.run(), name="ocpi-consumer"))
        self._tasks.append(asyncio.create_task(self._sweep(), name="ocpi-presence"))
        if self.settings.push_enabled:
            self.pusher.start()
        config = uvicorn.Config(self.app, host=self.settings.host, port=self.settings.port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = _Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(), name="ocpi-http"))
        while not self._server.started:
            if self._tasks[-1].done():
                await self._tasks[-1]  # raises the bind error
            await asyncio.sleep(0.02)
        log.info("ocpi_listening", port=self.settings.port, url=self.settings.base_url)

    async def _start_receiver(self) -> None:
        await create_reservation_tables(self.engine)
        await create_command_tables(self.engine)
        await self.catalog.follow(self.kafka)
        await self.active_sessions.follow(self.kafka)
        self.partner_tokens.producer = self._producer
        self.commands.commands = CommandsClient(self.kafka, MarkSent(self._producer, self.commands.pending),
                                                self.presence, source=Source.OCPI)
        await self.commands.commands.start()
        # CommandResults the previous run still owed (pending_commands.py); in the background
        self._tasks.append(asyncio.create_task(self._recover_commands(now_naive()), name="ocpi-command-recovery"))
        if self.settings.realtime_auth:
            await self.realtime.start(self._producer)
        await self.catalog.wait_caught_up(60)  # commands and token reads need the catalog

    async def _recover_commands(self, started) -> None:
        try:
            await self.commands.recover(self.kafka, self.presence.wait_caught_up, before=started)
        except Exception as exc:  # noqa: BLE001 - the service keeps serving; the rows stay for the next start
            log.error("command_recovery_failed", error=repr(exc))

    async def _stop_receiver(self) -> None:
        await self.realtime.stop()
        await self.commands.stop()
        if self.commands.commands is not None:
            await self.commands.commands.stop()
        await self.catalog.stop()
        await self.active_sessions.stop()

    async def _sweep(self) -> None:
        await self.presence.wait_caught_up()
        while True:
            try:
                await self.readmodel.sweep_presence()
            except Exception as exc:  # noqa: BLE001 - retried next round
                log.warning("presence_sweep_failed", error=repr(exc))
            await asyncio.sleep(self.settings.presence_sweep_s)

    async def stop(self) -> None:
        """Stop accepting, drain in-flight requests, stop consuming (commits are per batch),
        finish the current push round, flush the producer."""
        if self._server is not None:
            self._server.should_exit = True
        if self._consumer is not None:
            await self._consumer.stop()
        await self.pusher.stop()
        for task in self._tasks:
            if task.get_name() in ("ocpi-presence", "ocpi-command-recovery"):
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_receiver()
        await self.presence.stop()
        if self._producer is not None:
            await self._producer.stop()
        await self.client.close()
        self.app.state.reader.close()
        await self.engine.dispose()
