"""Which charger transaction an OCPI session id is: the latest state of every session that is
not over yet, from the compacted `sessions` topic (STOP_SESSION needs the station and the
charger's transaction id; the OCPI Session object carries neither)."""

from __future__ import annotations

from dataclasses import dataclass

from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.events.sessions import SessionStatus, SessionUpdated

RUNNING = {SessionStatus.ACTIVE, SessionStatus.PENDING}


@dataclass(frozen=True)
class RunningSession:
    session_id: str
    version: int
    station_id: str
    transaction_ref: str
    token_party: tuple[str, str] | None  # (country_code, party_id) of the session's token


class ActiveSessions:
    def __init__(self) -> None:
        self._running: dict[str, RunningSession] = {}
        self._ended: dict[str, int] = {}  # session id -> version it ended at (stale updates lose)
        self._follower: TopicFollower | None = None

    def apply(self, _topic: str, key: str, event: Event | None) -> None:
        if not isinstance(event, SessionUpdated):
            return
        s = event.payload
        current = self._running.get(s.session_id)
        if (current is not None and s.version < current.version) or s.version < self._ended.get(s.session_id, -1):
            return
        if s.status in RUNNING:
            party = (s.cdr_token.country_code.upper(), s.cdr_token.party_id.upper()) if s.cdr_token else None
            self._running[s.session_id] = RunningSession(s.session_id, s.version, s.station_id, s.transaction_ref,
                                                         party)
        else:
            self._running.pop(s.session_id, None)
            self._ended[s.session_id] = s.version
            if len(self._ended) > 100_000:
                self._ended.clear()

    def get(self, session_id: str) -> RunningSession | None:
        return self._running.get(session_id)

    def ended(self, session_id: str) -> bool:
        return session_id in self._ended

    async def follow(self, kafka: KafkaSettings) -> None:
        self._follower = TopicFollower(kafka, ["sessions"], self.apply)
        await self._follower.start()

    @property
    def caught_up(self) -> bool:
        return self._follower is not None and self._follower.caught_up.is_set()

    async def stop(self) -> None:
        if self._follower:
            await self._follower.stop()
