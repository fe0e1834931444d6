"""Apply a batch of facts to session and station states (pure: stores are plain mappings).

The faust agent hands each batch here and writes back what changed; the benchmark and the unit
tests drive the same code with dicts.
"""

from __future__ import annotations

from collections.abc import Callable

from services.sessions import state as sm
from services.sessions.facts import SessionFact, StationFact
from services.sessions.settings import SessionsSettings

Loader = Callable[[str], sm.State | None]


def windows_of(settings: SessionsSettings) -> dict[str, float]:
    return {"reboot": settings.reboot_window_s, "remote_start": settings.remote_start_window_s,
            "auth": settings.auth_window_s}


class Batch:
    """One batch of facts; `touched` sessions are (re)published, `dirty_*` states written back."""

    def __init__(self, settings: SessionsSettings, load_session: Loader, load_station: Loader):
        self.windows = windows_of(settings)
        self.memory_s = settings.station_memory_s
        self._load_session, self._load_station = load_session, load_station
        self.sessions: dict[str, sm.State] = {}
        self.stations: dict[str, sm.State] = {}
        self.touched: set[str] = set()
        self.dirty_sessions: set[str] = set()
        self.dirty_stations: set[str] = set()
        self.facts = 0

    def session(self, key: str) -> sm.State | None:
        if key not in self.sessions:
            loaded = self._load_session(key)
            if loaded is None:
                return None
            self.sessions[key] = loaded
        return self.sessions[key]

    def station(self, station_id: str, partition: int) -> sm.State:
        if station_id not in self.stations:
            self.stations[station_id] = self._load_station(station_id) or {**sm.new_station(station_id), "p": partition}
        return self.stations[station_id]

    def add(self, fact: SessionFact | StationFact, partition: int) -> None:
        self.facts += 1
        if isinstance(fact, SessionFact):
            self._add_session_fact(fact, partition)
        else:
            self._add_station_fact(fact, partition)

    def _add_session_fact(self, fact: SessionFact, partition: int) -> None:
        state = self.session(fact.key)
        if state is None:
            state = self.sessions[fact.key] = {**sm.new_session(fact), "p": partition}
        # a duplicate still republishes the current version: after a crash between the table write
        # and the output, the replay heals the lost output (idempotent: same version, same content)
        self.touched.add(fact.key)
        if sm.absorb(state, fact):
            self.dirty_sessions.add(fact.key)
        if fact.kind in ("started", "updated", "ended") and state["start"] is not None:
            station = self.station(fact.station_id, partition)
            if sm.track_session(station, state):
                self.dirty_stations.add(fact.station_id)
            if sm.absorb_related(state, station, self.windows):
                self.dirty_sessions.add(fact.key)

    def _add_station_fact(self, fact: StationFact, partition: int) -> None:
        station = self.station(fact.station_id, partition)
        if not sm.remember_station_fact(station, fact):
            return
        sm.prune_station(station, self.memory_s)
        self.dirty_stations.add(fact.station_id)
        for key in list(station["sessions"]):
            state = self.session(key)
            if state is not None and sm.absorb_station_fact(state, fact, self.windows):
                self.touched.add(key)
                self.dirty_sessions.add(key)
