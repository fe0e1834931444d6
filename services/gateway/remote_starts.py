"""Tokens a remote start (or reservation) was sent for, so the charger's own Authorize /
transaction for that token is accepted without asking anyone.

mod_commands.asciidoc StartSession: "The Token provided by the eMSP for the StartSession SHALL be
authorized by the eMSP before sending it to the CPO ... If this Token is of type RFID, the CPO
SHALL NOT do a realtime authorization at the eMSP for this Token at the given EVSE/Charge Point
within 15 minutes after having received this StartSession" (ReserveNow: the same). Every gateway
replica follows `commands` from its end and remembers (station, uid) — and the 1.6 short alias the
charger will present — with the command's `authorization_reference`, for `window` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from libs.catalog.index import short_alias
from libs.events.bus import KafkaSettings
from libs.events.control import CommandKind, CommandRequested
from libs.events.envelope import Event
from libs.events.follower import TopicFollower

KINDS = (CommandKind.REMOTE_START, CommandKind.RESERVE_NOW)
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class RemoteStart:
    uid: str
    authorization_reference: str | None
    at: float  # monotonic


class RemoteStarts:
    def __init__(self, kafka: KafkaSettings, window: float = 900.0):
        self.window = window
        self._seen: dict[tuple[str, str], RemoteStart] = {}
        self._follower = TopicFollower(kafka, ["commands"], self.apply, from_end=True)

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    def apply(self, _topic: str, _key: str, event: Event | None) -> None:
        if not isinstance(event, CommandRequested) or event.payload.kind not in KINDS or not event.station_id:
            return
        uid = event.payload.args.get("id_token")
        if not isinstance(uid, str) or not uid:
            return
        entry = RemoteStart(uid, event.payload.args.get("authorization_reference"), time.monotonic())
        if len(self._seen) >= MAX_ENTRIES:
            self._prune()
        self._seen[(event.station_id, uid)] = entry
        self._seen[(event.station_id, short_alias(uid))] = entry

    def match(self, station_id: str, id_token: str) -> RemoteStart | None:
        entry = self._seen.get((station_id, id_token))
        if entry is None or time.monotonic() - entry.at > self.window:
            return None
        return entry

    def _prune(self) -> None:
        now = time.monotonic()
        self._seen = {k: v for k, v in self._seen.items() if now - v.at <= self.window}
