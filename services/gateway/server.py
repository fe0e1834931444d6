"""The WebSocket server: `/ocpp/{station_id}`, subprotocol ocpp1.6 / ocpp2.0.1, authentication
before the upgrade, then one StationConnection per charger with presence on connect / close."""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from urllib.parse import unquote

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request

from libs.catalog.index import CatalogIndex
from services.gateway import metrics
from services.gateway.auth import Authenticator, Identity
from services.gateway.connection import StationConnection
from services.gateway.errors import V16, V201
from services.gateway.frames import FrameTap
from services.gateway.handlers import BootPolicy, Handlers
from services.gateway.presence import PresencePublisher
from services.gateway.registry import ConnectionRegistry
from services.gateway.settings import GatewaySettings
from services.gateway.sink import EventSink
from services.gateway.tls import ServerTls
from services.gateway.transaction_evses import TransactionEvses
from services.gateway.v16 import V16Handlers
from services.gateway.v201 import V201Handlers

log = structlog.get_logger("gateway.server")

PROTOCOLS = (V201, V16)
PATH_PREFIX = "/ocpp/"


class GatewayServer:
    def __init__(self, settings: GatewaySettings, index: CatalogIndex, authorizer, sink: EventSink,
                 tap: FrameTap, presence: PresencePublisher, registry: ConnectionRegistry,
                 transactions: TransactionEvses):
        self.settings = settings
        self.index = index
        self.authenticator = Authenticator(index, settings)
        self.tls = ServerTls(settings)
        self.sink, self.tap, self.presence, self.registry = sink, tap, presence, registry
        boot = BootPolicy(heartbeat_interval=settings.heartbeat_interval,
                          unknown_station_status=settings.unknown_station_boot)
        known = index.known_station if settings.auth else self._known_when_auth_off
        self.handlers: dict[str, Handlers] = {
            V16: V16Handlers(authorizer, boot, transactions, known),
            V201: V201Handlers(authorizer, boot, transactions, known),
        }
        self._server: Server | None = None
        self._accepting = True
        self._tasks: set[asyncio.Task] = set()

    def _known_when_auth_off(self, station_id: str) -> bool:
        return self.index.known_station(station_id)

    # --- handshake -----------------------------------------------------------------------
    def _select_subprotocol(self, connection: ServerConnection, offered) -> str | None:
        for proto in offered:  # the charger lists its preference first
            if proto in PROTOCOLS:
                return proto
        return None

    def _process_request(self, connection: ServerConnection, request: Request):
        if not self._accepting:
            return self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "draining")
        path = request.path.split("?", 1)[0]
        station_id = unquote(path[len(PATH_PREFIX):]) if path.startswith(PATH_PREFIX) else ""
        if not station_id or "/" in station_id or len(station_id) > 48:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "bad_path")
        offered = [p.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for p in h.split(",")]
        if not any(p in PROTOCOLS for p in offered):
            return self._refuse(connection, HTTPStatus.BAD_REQUEST, "no_supported_subprotocol")
        ssl_object = connection.transport.get_extra_info("ssl_object")
        peercert = ssl_object.getpeercert() if ssl_object is not None else None
        remote = connection.remote_address[0] if connection.remote_address else None
        result = self.authenticator.authenticate(station_id, request.headers, peercert, remote)
        if not isinstance(result, Identity):
            response = self._refuse(connection, HTTPStatus(result.status), result.reason)
            response.headers["WWW-Authenticate"] = 'Basic realm="voltstream", charset="UTF-8"'
            return response
        connection.voltstream_identity = result  # read by _handle
        return None

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, reason: str):
        metrics.HANDSHAKE_REFUSED.labels(reason).inc()
        log.info("handshake_refused", status=int(status), reason=reason)
        return connection.respond(status, f"{reason}\n")

    # --- connection lifecycle ------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        identity: Identity = ws.voltstream_identity
        protocol = ws.subprotocol
        conn = StationConnection(
            ws, identity.station_id, protocol, self.handlers[protocol], self.sink, self.tap,
            max_frame_bytes=self.settings.max_frame_bytes, rate=self.settings.rate_limit_per_second,
            burst=self.settings.rate_limit_burst,
        )
        old = self.registry.add(conn)
        if old is not None:
            await old.close(1000, "replaced by a new connection", "replaced")
        metrics.CONNECTS.labels(protocol).inc()
        metrics.CONNECTIONS.labels(protocol).inc()
        log.info("station_connected", station_id=conn.station_id, protocol=protocol, connection_id=conn.connection_id,
                 auth=identity.method)
        try:
            await self.presence.connected(conn.station_id, conn.connection_id, protocol, conn.remote)
        except Exception as exc:  # noqa: BLE001 - spool full: the charger is still served
            log.error("presence_not_recorded", station_id=conn.station_id, error=repr(exc)[:200])
        try:
            await conn.serve()
        finally:
            metrics.CONNECTIONS.labels(protocol).dec()
            reason = conn.close_reason or _close_reason(ws)
            metrics.DISCONNECTS.labels(reason).inc()
            current = self.registry.remove(conn)
            log.info("station_disconnected", station_id=conn.station_id, reason=reason,
                     connection_id=conn.connection_id)
            # A replaced connection still reports its own disconnect, but must not mark the
            # station offline: presence is only written by the current connection.
            task = asyncio.create_task(self._disconnected(conn, protocol, reason, current))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _disconnected(self, conn: StationConnection, protocol: str, reason: str, current: bool) -> None:
        try:
            if current:
                await self.presence.disconnected(conn.station_id, conn.connection_id, protocol, conn.remote, reason)
            else:
                from libs.events.envelope import Source, utcnow
                from libs.events.station import Connection, StationDisconnected
                await self.sink.publish([StationDisconnected.create(
                    payload=Connection(gateway_instance=self.presence.instance_id, connection_id=conn.connection_id,
                                       protocol=protocol, remote_address=conn.remote, reason=reason),
                    source=Source.GATEWAY, station_id=conn.station_id, received_at=utcnow())])
        except Exception as exc:  # noqa: BLE001
            log.error("presence_not_recorded", station_id=conn.station_id, error=repr(exc)[:200])

    # --- start / stop --------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self._server = await serve(
            self._handle, s.host, s.port, process_request=self._process_request,
            select_subprotocol=self._select_subprotocol, subprotocols=list(PROTOCOLS),
            max_size=s.max_transport_bytes, ping_interval=s.ping_interval, ping_timeout=s.ping_timeout,
            ssl=self.tls.context, compression=None,
        )
        self.tls.start()

    @property
    def port(self) -> int:
        assert self._server is not None
        return next(iter(self._server.sockets)).getsockname()[1]

    async def stop_accepting(self) -> None:
        self._accepting = False
        if self._server is not None:
            self._server.close(close_connections=False)

    async def close(self) -> None:
        await self.tls.stop()
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _close_reason(ws: ServerConnection) -> str:
    sent = ws.protocol.close_sent  # what the gateway itself sent (keepalive failures are ours)
    if sent is not None and sent.code == 1011 and "keepalive ping timeout" in sent.reason:
        return "ping_timeout"
    if ws.close_code == 1009:
        return "frame_too_large"
    if ws.close_code in (None, 1006):
        return "connection_lost"
    return "closed"
