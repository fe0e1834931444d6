"""Presence view: which stations are online, and on which gateway instance.

A station counts as online only while its latest presence says so AND the gateway instance
holding it still has a live lease: a killed gateway never says goodbye, its lease just lapses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.events.station import Lease, Presence

PRESENCE_TOPICS = ("station-presence", "gateway-instances")


class PresenceView:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.clock = clock
        self._presence: dict[str, Presence] = {}
        self._leases: dict[str, Lease] = {}
        self._follower: TopicFollower | None = None

    def apply(self, topic: str, key: str, event: Event | None) -> None:
        table = self._presence if topic == "station-presence" else self._leases
        if event is None:
            table.pop(key, None)
        else:
            table[key] = event.payload

    def instance_alive(self, instance_id: str) -> bool:
        lease = self._leases.get(instance_id)
        return lease is not None and lease.alive(self.clock())

    def is_online(self, station_id: str) -> bool:
        p = self._presence.get(station_id)
        return p is not None and p.online and self.instance_alive(p.gateway_instance)

    def gateway_of(self, station_id: str) -> str | None:
        return self._presence[station_id].gateway_instance if self.is_online(station_id) else None

    def presence(self, station_id: str) -> Presence | None:
        return self._presence.get(station_id)

    def stations(self) -> dict[str, bool]:
        return {s: self.is_online(s) for s in self._presence}

    async def follow(self, settings: KafkaSettings) -> None:
        self._follower = TopicFollower(settings, list(PRESENCE_TOPICS), self.apply)
        await self._follower.start()

    async def wait_caught_up(self, timeout: float | None = None) -> None:
        assert self._follower is not None, "call follow() first"
        await self._follower.wait_caught_up(timeout)

    @property
    def caught_up(self) -> bool:
        return self._follower is not None and self._follower.caught_up.is_set()

    async def stop(self) -> None:
        if self._follower:
            await self._follower.stop()
