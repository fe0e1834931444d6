"""Gateway wiring: catalog index + presence view, durable sink, frame tap, lease, the server."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from libs.catalog.index import CatalogIndex
from libs.catalog.presence import PresenceView
from libs.events.bus import KafkaSettings
from libs.service.health import HealthServer
from services.gateway.authorize import Authorizer
from services.gateway.frames import FrameTap
from services.gateway.presence import LeaseKeeper, PresencePublisher
from services.gateway.registry import ConnectionRegistry
from services.gateway.server import GatewayServer
from services.gateway.settings import GatewaySettings
from services.gateway.sink import EventSink
from services.gateway.spool import Spool

log = structlog.get_logger("gateway")

LEASE_RENEW_SECONDS = 3.0
LEASE_TTL_SECONDS = 10.0


class GatewayApp:
    name = "gateway"

    def __init__(self, settings: GatewaySettings | None = None, kafka: KafkaSettings | None = None, *,
                 health: bool = True, lease_renew: float = LEASE_RENEW_SECONDS, lease_ttl: float = LEASE_TTL_SECONDS):
        self.settings = settings or GatewaySettings()
        self.kafka = kafka or KafkaSettings()
        self.index = CatalogIndex()
        self.presence_view = PresenceView()
        self.spool = Spool(self.settings.spool_dir / self.settings.instance_id, self.settings.spool_max_bytes)
        self.sink = EventSink(self.kafka, self.spool, ack_timeout=self.settings.kafka_ack_timeout,
                              client_id=f"voltstream-gateway-{self.settings.instance_id}")
        self.tap = FrameTap(self.kafka, client_id=f"voltstream-gateway-frames-{self.settings.instance_id}")
        self.registry = ConnectionRegistry()
        self.authorizer = Authorizer(self.index)  # issue 9: Authorizer(index, realtime=…)
        self.presence = PresencePublisher(self.sink, self.settings.instance_id)
        self.lease = LeaseKeeper(self.sink, self.settings.instance_id, lease_renew, lease_ttl)
        self.server = GatewayServer(self.settings, self.index, self.authorizer, self.sink, self.tap,
                                    self.presence, self.registry)
        self.health = HealthServer(self.settings.health_host, self.settings.health_port, {
            "catalog": lambda: self.index.caught_up,
            "presence": lambda: self.presence_view.caught_up,
            "serving": lambda: self._serving,
        }) if health else None
        self._serving = False
        self._watchdog: asyncio.Task | None = None

    async def start(self) -> None:
        if self.health:
            await self.health.start()
        await self.sink.start()
        self.tap.start()
        await self.index.follow(self.kafka)
        await self.presence_view.follow(self.kafka)
        await self.index.wait_caught_up()
        await self.presence_view.wait_caught_up()
        self.lease.start()
        await self.server.start()
        self._watchdog = asyncio.create_task(self._heartbeat_watchdog(), name="heartbeat-watchdog")
        self._serving = True
        log.info("gateway_serving", port=self.server.port, instance_id=self.settings.instance_id,
                 auth=self.settings.auth)

    async def _heartbeat_watchdog(self) -> None:
        """Close connections silent for longer than grace × heartbeat interval (heartbeat_missed)."""
        limit = self.settings.heartbeat_interval * self.settings.heartbeat_grace
        while True:
            await asyncio.sleep(min(limit / 4, 30))
            for conn in self.registry.silent_since(limit):
                log.info("heartbeat_missed", station_id=conn.station_id)
                await conn.close(1001, "heartbeat missed", "heartbeat_missed")

    async def stop(self) -> None:
        """SIGTERM: stop accepting, close connections gradually, flush, end the lease."""
        self._serving = False
        await self.server.stop_accepting()
        if self._watchdog:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await self.registry.close_all(self.settings.drain_seconds)
        await self.server.close()
        await self.sink.drain(timeout=5)
        await self.tap.flush(timeout=5)
        await self.lease.release()
        await self.tap.stop()
        await self.sink.stop()
        await self.index.stop()
        await self.presence_view.stop()
        if self.health:
            await self.health.stop()
