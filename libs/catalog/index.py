"""The in-memory catalog index, fed by the compacted reference topics.

The one way every service reads reference data: station → location / EVSE / connectors /
tariffs, uid → token, station → credential hash (a rotated credential overrides the catalog's).
`caught_up` is set once the topics were read to their end at start; a service is ready only then.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from libs.catalog.models import (
    CATALOG_OWNER,
    ROTATION_OWNER,
    Connector,
    CredentialRecord,
    LocationRecord,
    TariffRecord,
    TokenRecord,
)
from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.ocpi.models import Tariff, Token

REFERENCE_TOPICS = ("locations", "tariffs", "tokens", "station-credentials")
IDTAG_MAX = 20  # OCPP 1.6 IdToken is CiString20Type


def short_alias(uid: str) -> str:
    """Stable ≤20-character alias for an OCPI uid a 1.6 charger cannot carry (CiString20)."""
    if len(uid) <= IDTAG_MAX:
        return uid
    digest = base64.b32encode(hashlib.sha256(uid.encode()).digest()).decode()
    return "VS" + digest[: IDTAG_MAX - 2]


@dataclass(frozen=True)
class EvseRef:
    """Where an OCPP (station, evse) sits in the OCPI world."""

    station_id: str
    ocpp_evse_id: int
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str
    evse_id: str | None
    time_zone: str
    connectors: tuple[Connector, ...]
    removed: bool

    def connector(self, ocpp_connector_id: int | None) -> Connector | None:
        for c in self.connectors:
            if ocpp_connector_id is None or c.ocpp_connector_id == ocpp_connector_id:
                return c
        return None


class CatalogIndex:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {t: {} for t in REFERENCE_TOPICS}
        self._evses: dict[tuple[str, int], EvseRef] = {}
        self._by_location: dict[str, list[tuple[str, int]]] = {}
        self._tokens_by_uid: dict[str, dict[str, TokenRecord]] = {}
        self._alias: dict[str, str] = {}
        self._follower: TopicFollower | None = None

    # --- feeding -------------------------------------------------------------------------
    def apply(self, topic: str, key: str, event: Event | None) -> None:
        """Apply one record (None = tombstone) from a reference topic."""
        if topic not in self.records:
            return
        old = self.records[topic].pop(key, None)
        if topic == "locations" and old is not None:
            self._unindex_location(key)
        if topic == "tokens" and old is not None:
            self._tokens_by_uid.get(old.token.uid, {}).pop(key, None)
        if event is None:
            return
        record = event.payload
        self.records[topic][key] = record
        if isinstance(record, LocationRecord):
            self._index_location(key, record)
        elif isinstance(record, TokenRecord):
            self._tokens_by_uid.setdefault(record.token.uid, {})[key] = record
            self._alias[short_alias(record.token.uid)] = record.token.uid

    def _index_location(self, key: str, rec: LocationRecord) -> None:
        loc = rec.location
        slots = []
        for evse in loc.evses:
            slot = (evse.station_id, evse.ocpp_evse_id)
            self._evses[slot] = EvseRef(
                station_id=evse.station_id, ocpp_evse_id=evse.ocpp_evse_id,
                country_code=rec.country_code, party_id=rec.party_id, location_id=loc.id,
                evse_uid=evse.uid, evse_id=evse.evse_id, time_zone=loc.time_zone,
                connectors=tuple(evse.connectors), removed=evse.removed or loc.removed,
            )
            slots.append(slot)
        self._by_location[key] = slots

    def _unindex_location(self, key: str) -> None:
        for slot in self._by_location.pop(key, []):
            self._evses.pop(slot, None)

    # --- following the topics --------------------------------------------------------------
    async def follow(self, settings: KafkaSettings) -> None:
        self._follower = TopicFollower(settings, list(REFERENCE_TOPICS), self.apply)
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

    # --- queries ---------------------------------------------------------------------------
    def evse(self, station_id: str, ocpp_evse_id: int) -> EvseRef | None:
        return self._evses.get((station_id, ocpp_evse_id))

    def station_evses(self, station_id: str) -> list[EvseRef]:
        return sorted((e for (s, _), e in self._evses.items() if s == station_id), key=lambda e: e.ocpp_evse_id)

    def known_station(self, station_id: str) -> bool:
        return any(s == station_id for s, _ in self._evses) or self.credential(station_id) is not None

    def locations(self) -> list[LocationRecord]:
        return list(self.records["locations"].values())

    def tariff(self, country_code: str, party_id: str, tariff_id: str) -> Tariff | None:
        rec: TariffRecord | None = self.records["tariffs"].get(f"{country_code}/{party_id}/{tariff_id}")
        return rec.tariff if rec else None

    def tariffs(self) -> list[Tariff]:
        return [r.tariff for r in self.records["tariffs"].values()]

    def token(self, uid: str, token_type: str | None = None) -> Token | None:
        """The token a charger presented, by uid (or its 1.6 short alias) and type if known.

        On a uid conflict the operator's own token wins, then the most recently updated.
        """
        uid = self._alias.get(uid, uid)
        candidates = [
            r for r in self._tokens_by_uid.get(uid, {}).values()
            if token_type is None or r.token.type == token_type
        ]
        if not candidates:
            return None
        best = max(candidates, key=lambda r: (r.owner == CATALOG_OWNER, r.token.last_updated))
        return best.token

    def tokens(self) -> list[TokenRecord]:
        return list(self.records["tokens"].values())

    def credential(self, station_id: str) -> CredentialRecord | None:
        recs = self.records["station-credentials"]
        return recs.get(f"{station_id}/{ROTATION_OWNER}") or recs.get(f"{station_id}/{CATALOG_OWNER}")
