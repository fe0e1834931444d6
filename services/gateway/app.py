"""Gateway wiring: catalog index + presence view, durable sink, frame tap, lease, the server."""

from __future__ import annotations

import structlog

from libs.catalog.index import CatalogIndex
from libs.catalog.presence import PresenceView
from libs.events.bus import KafkaSettings
from libs.events.control import CommandKind
from libs.service.health import HealthServer
from services.gateway.authorize import Authorizer
from services.gateway.commands.consumer import CommandConsumer
from services.gateway.commands.local_list import LocalListSync
from services.gateway.commands.results import ResultWriter
from services.gateway.commands.rotation import KeyRotation
from services.gateway.frames import FrameTap
from services.gateway.presence import LeaseKeeper, PresencePublisher
from services.gateway.realtime import KafkaRealtimeAuthorizer
from services.gateway.registry import ConnectionRegistry
from services.gateway.remote_starts import RemoteStarts
from services.gateway.server import GatewayServer
from services.gateway.settings import GatewaySettings
from services.gateway.sink import EventSink
from services.gateway.spool import Spool
from services.gateway.transaction_evses import TransactionEvses
from services.gateway.watchdog import HeartbeatWatchdog

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
        self.remote_starts = RemoteStarts(self.kafka, window=self.settings.remote_start_window)
        self.realtime = KafkaRealtimeAuthorizer(
            self.kafka, self.index, timeout=self.settings.realtime_auth_timeout,
            client_id=f"voltstream-gateway-auth-{self.settings.instance_id}") if self.settings.realtime_auth else None
        self.authorizer = Authorizer(self.index, realtime=self.realtime, remote_starts=self.remote_starts,
                                     realtime_for_allowed=self.settings.realtime_for_allowed)
        self.presence = PresencePublisher(self.sink, self.settings.instance_id)
        self.lease = LeaseKeeper(self.sink, self.settings.instance_id, lease_renew, lease_ttl)
        self.watchdog = HeartbeatWatchdog(self.registry, self.settings.heartbeat_interval,
                                          self.settings.heartbeat_grace, pings=bool(self.settings.ping_interval))
        self.transactions = TransactionEvses(self.kafka)
        self.server = GatewayServer(self.settings, self.index, self.authorizer, self.sink, self.tap,
                                    self.presence, self.registry, self.transactions)
        s = self.settings
        self.local_lists = LocalListSync(self.index, self.registry, interval=s.local_list_interval,
                                         call_timeout=s.call_timeout,
                                         default_max_entries=s.local_list_default_max_entries,
                                         default_per_message=s.local_list_default_per_message,
                                         realtime_for_allowed=s.realtime_auth and s.realtime_for_allowed)
        self.commands = CommandConsumer(
            self.kafka, self.registry, self.index, ResultWriter(self.sink), call_timeout=s.call_timeout,
            result_margin=s.command_result_margin,
            specials={CommandKind.ROTATE_KEY: KeyRotation(self.index, self.sink),
                      CommandKind.SEND_LOCAL_LIST: self.local_lists})
        self.health = HealthServer(self.settings.health_host, self.settings.health_port, {
            "catalog": lambda: self.index.caught_up,
            "presence": lambda: self.presence_view.caught_up,
            "transaction_evses": lambda: self.transactions.caught_up,
            "serving": lambda: self._serving,
        }) if health else None
        self._serving = False

    async def start(self) -> None:
        if self.health:
            await self.health.start()
        await self.sink.start()
        self.tap.start()
        await self.index.follow(self.kafka)
        await self.presence_view.follow(self.kafka)
        await self.transactions.start()
        await self.index.wait_caught_up()
        await self.presence_view.wait_caught_up()
        await self.transactions.wait_caught_up()
        self.lease.start()
        await self.commands.start()  # from the end: before serving, so no command to a held station is missed
        await self.remote_starts.start()
        if self.realtime is not None:
            await self.realtime.start()
        if self.settings.local_list_sync:
            self.local_lists.start()
        await self.server.start()
        self.watchdog.start()
        self._serving = True
        log.info("gateway_serving", port=self.server.port, instance_id=self.settings.instance_id,
                 auth=self.settings.auth)

    async def stop(self) -> None:
        """SIGTERM: stop accepting, close connections gradually, flush, end the lease."""
        self._serving = False
        await self.server.stop_accepting()
        await self.watchdog.stop()
        await self.local_lists.stop()
        await self.commands.stop()
        await self.registry.close_all(self.settings.drain_seconds)
        await self.server.close()
        await self.remote_starts.stop()
        if self.realtime is not None:
            await self.realtime.stop()
        await self.sink.drain(timeout=5)
        await self.tap.flush(timeout=5)
        await self.lease.release()
        await self.tap.stop()
        await self.sink.stop()
        await self.index.stop()
        await self.presence_view.stop()
        await self.transactions.stop()
        if self.health:
            await self.health.stop()
