"""Presence and the gateway lease.

On connect and disconnect the gateway emits `station.connected` / `station.disconnected` (to
station-events, through the durable sink) and the compacted `station.presence` record. Each
instance renews a `gateway.lease` in gateway-instances every `renew_interval`; a killed gateway
stops renewing, its lease lapses after `lease_ttl` and `PresenceView` reports its stations offline.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from libs.events.envelope import Source, utcnow
from libs.events.station import (
    Connection,
    GatewayLease,
    Lease,
    Presence,
    StationConnected,
    StationDisconnected,
    StationPresence,
)
from services.gateway.sink import EventSink

log = structlog.get_logger("gateway.presence")


class PresencePublisher:
    def __init__(self, sink: EventSink, instance_id: str):
        self.sink = sink
        self.instance_id = instance_id

    def _events(self, cls, station_id: str, connection_id: str, protocol: str, online: bool,
                remote: str | None, reason: str | None) -> list:
        now = utcnow()
        conn = Connection(gateway_instance=self.instance_id, connection_id=connection_id, protocol=protocol,
                          remote_address=remote, reason=reason)
        return [
            cls.create(payload=conn, source=Source.GATEWAY, station_id=station_id, received_at=now),
            StationPresence.create(
                payload=Presence(online=online, gateway_instance=self.instance_id,
                                 connection_id=connection_id, since=now),
                source=Source.GATEWAY, station_id=station_id, received_at=now),
        ]

    async def connected(self, station_id: str, connection_id: str, protocol: str, remote: str | None) -> None:
        await self.sink.publish(self._events(StationConnected, station_id, connection_id, protocol, True, remote, None))

    async def disconnected(self, station_id: str, connection_id: str, protocol: str, remote: str | None,
                           reason: str) -> None:
        await self.sink.publish(
            self._events(StationDisconnected, station_id, connection_id, protocol, False, remote, reason))


class LeaseKeeper:
    def __init__(self, sink: EventSink, instance_id: str, renew_interval: float, ttl: float):
        self.sink = sink
        self.instance_id = instance_id
        self.renew_interval = renew_interval
        self.ttl = ttl
        self._task: asyncio.Task | None = None

    def _lease(self, ttl: float) -> GatewayLease:
        now = utcnow()
        return GatewayLease.create(
            payload=Lease(instance_id=self.instance_id, renewed_at=now, expires_at=now + timedelta(seconds=ttl)),
            source=Source.GATEWAY, received_at=now)

    async def renew(self) -> None:
        producer = self.sink.producer
        if producer is None:
            return  # Kafka down: nothing to renew into (the lease lapses; presence says unknown)
        await asyncio.wait_for(producer.send(self._lease(self.ttl)), self.ttl)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lease")

    async def _run(self) -> None:
        while True:
            try:
                await self.renew()
            except Exception as exc:  # noqa: BLE001
                log.warning("lease_renew_failed", error=repr(exc)[:200])
            await asyncio.sleep(self.renew_interval)

    async def release(self) -> None:
        """Graceful stop: end the lease now."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            if self.sink.producer is not None:
                await asyncio.wait_for(self.sink.producer.send(self._lease(0)), 5)
