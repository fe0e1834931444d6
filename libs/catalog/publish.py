"""`voltstream catalog apply`: publish the catalog file to the compacted topics.

Only records owned by the catalog are created, updated or removed; partner tokens and rotated
credentials are never touched. Locations, EVSEs and connectors that left the file are published
again marked `removed` (OCPI has no delete), tariffs, tokens and credentials get a tombstone.
Unchanged records are not re-published, so applying the same file twice publishes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from libs.catalog.index import CatalogIndex
from libs.catalog.loader import EPOCH, Catalog
from libs.catalog.models import (
    CATALOG_OWNER,
    CredentialRecord,
    Evse,
    Location,
    LocationRecord,
    Record,
    TariffRecord,
    TokenRecord,
    credential_key,
    object_key,
    token_key,
)
from libs.events.envelope import Event, Source
from libs.events.producer import EventProducer
from libs.events.reference import CredentialPublished, LocationPublished, TariffPublished, TokenPublished


@dataclass
class ApplyReport:
    published: list[str] = field(default_factory=list)  # "topic key"
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # owned by someone else

    def summary(self) -> str:
        return (
            f"{len(self.published)} published, {len(self.removed)} removed, {self.unchanged} unchanged"
            + (f", {len(self.skipped)} skipped (not owned by the catalog)" if self.skipped else "")
        )


def _without_stamp(model: BaseModel) -> BaseModel:
    return model.model_copy(update={"last_updated": EPOCH})


def _removed_evse(evse: Evse) -> Evse:
    return evse.model_copy(update={
        "removed": True, "connectors": [c.model_copy(update={"removed": True}) for c in evse.connectors],
    })


def _merge_removed(new: Location, old: Location | None) -> Location:
    """Keep EVSEs and connectors that left the file, marked removed."""
    if old is None:
        return new
    new_evses = {e.uid: e for e in new.evses}
    evses = []
    for evse in new.evses:
        old_evse = next((e for e in old.evses if e.uid == evse.uid), None)
        if old_evse is not None:
            kept = {c.id for c in evse.connectors}
            gone = [c.model_copy(update={"removed": True}) for c in old_evse.connectors if c.id not in kept]
            evse = evse.model_copy(update={"connectors": [*evse.connectors, *gone]})
        evses.append(evse)
    evses += [_removed_evse(e) for e in old.evses if e.uid not in new_evses]
    return new.model_copy(update={"evses": evses})


class CatalogPublisher:
    def __init__(self, producer: EventProducer, index: CatalogIndex):
        self.producer = producer
        self.index = index

    async def apply(self, catalog: Catalog, now: datetime | None = None) -> ApplyReport:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        report = ApplyReport()
        events: list[Event] = []
        tombstones: list[tuple[str, str]] = []
        op = catalog.file.operator

        # locations
        wanted: dict[str, Location] = {}
        for loc in catalog.file.locations:
            cc, party = loc.country_code or op.country_code, loc.party_id or op.party_id
            wanted[object_key(cc, party, loc.id)] = loc.model_copy(update={"country_code": cc, "party_id": party})
        current = self.index.records["locations"]
        for key in sorted(set(wanted) | set(current)):
            old: LocationRecord | None = current.get(key)
            if old is not None and old.owner != CATALOG_OWNER:
                report.skipped.append(f"locations {key}")
                continue
            if key in wanted:
                loc = _merge_removed(wanted[key], old.location if old else None)
            elif not old.location.removed:
                loc = old.location.model_copy(update={"removed": True, "evses": [_removed_evse(e) for e in old.location.evses]})
            else:
                report.unchanged += 1
                continue
            if old is not None and old.location == loc:
                report.unchanged += 1
                continue
            rec = LocationRecord(record_key=key, owner=CATALOG_OWNER, last_updated=now,
                                 country_code=loc.country_code, party_id=loc.party_id, location=loc)
            events.append(LocationPublished.create(payload=rec, source=Source.CATALOG, occurred_at=now))
            (report.removed if loc.removed else report.published).append(f"locations {key}")

        # tariffs, tokens, credentials: publish changed, tombstone what left the file
        self._diff(
            "tariffs", report, events, tombstones, now,
            {object_key(t.country_code, t.party_id, t.id): t for t in catalog.tariffs},
            lambda key, t: TariffPublished.create(
                payload=TariffRecord(record_key=key, owner=CATALOG_OWNER, last_updated=now,
                                     tariff=t.model_copy(update={"last_updated": now})),
                source=Source.CATALOG, occurred_at=now),
            lambda rec: _without_stamp(rec.tariff),
            lambda t: _without_stamp(t),
        )
        self._diff(
            "tokens", report, events, tombstones, now,
            {token_key(t.country_code, t.party_id, t.uid, t.type): t for t in catalog.tokens},
            lambda key, t: TokenPublished.create(
                payload=TokenRecord(record_key=key, owner=CATALOG_OWNER, last_updated=now,
                                    token=t.model_copy(update={"last_updated": now})),
                source=Source.CATALOG, occurred_at=now),
            lambda rec: _without_stamp(rec.token),
            lambda t: _without_stamp(t),
        )
        self._diff(
            "station-credentials", report, events, tombstones, now,
            {credential_key(s.station_id, CATALOG_OWNER): s for s in catalog.file.stations},
            lambda key, s: CredentialPublished.create(
                payload=CredentialRecord(record_key=key, owner=CATALOG_OWNER, last_updated=now,
                                         station_id=s.station_id, security_profile=s.security_profile,
                                         authorization_key_hash=s.authorization_key_hash),
                source=Source.CATALOG, station_id=s.station_id, occurred_at=now),
            lambda rec: (rec.station_id, rec.security_profile, rec.authorization_key_hash),
            lambda s: (s.station_id, s.security_profile, s.authorization_key_hash),
        )
        await self.producer.send_many(events)
        for topic, key in tombstones:
            await self.producer.tombstone(topic, key)
        return report

    def _diff(self, topic, report, events, tombstones, now, wanted, make, old_view, new_view) -> None:
        current: dict[str, Record] = self.index.records[topic]
        for key in sorted(set(wanted) | set(current)):
            old = current.get(key)
            if old is not None and old.owner != CATALOG_OWNER:
                if key in wanted:
                    report.skipped.append(f"{topic} {key}")
                continue
            if key not in wanted:
                tombstones.append((topic, key))
                report.removed.append(f"{topic} {key}")
            elif old is not None and old_view(old) == new_view(wanted[key]):
                report.unchanged += 1
            else:
                events.append(make(key, wanted[key]))
                report.published.append(f"{topic} {key}")
