"""The read model: a consumer writes what partners pull and queues what they get pushed.

Inputs (DESIGN.md): locations and tariffs (compacted catalog topics), station-events (EVSE
status), station-presence via the PresenceView (offline → UNKNOWN), sessions (newest version
wins) and cdrs. Each batch is one database transaction; the consumer commits its Kafka offsets
only after it (at-least-once in; every step is idempotent, so a re-read batch changes nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import structlog
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.catalog.models import LocationRecord
from libs.catalog.presence import PresenceView
from libs.events.consumer import Delivery, Rejected
from libs.events.envelope import Event
from libs.events.reference import LocationPublished, TariffPublished
from libs.events.sessions import CdrIssued, SessionUpdated
from libs.events.station import StationStatusChanged
from libs.ocpi.models import BusinessDetails
from libs.ocpi.types import format_datetime
from services.ocpi import mapping
from services.ocpi.db import (
    CdrRow,
    ConnectorState,
    EvseSlot,
    LocationRow,
    Partner,
    SessionRow,
    StationState,
    TariffRow,
    naive_utc,
    now_naive,
)
from services.ocpi.metrics import OcpiMetrics
from services.ocpi.partners import receiver_url
from services.ocpi.push import enqueue
from services.ocpi.settings import OcpiSettings

log = structlog.get_logger("ocpi.readmodel")

INPUT_TOPICS = ["locations", "tariffs", "station-events", "sessions", "cdrs"]


def _lu(doc: dict) -> datetime:
    return datetime.fromisoformat(doc["last_updated"].replace("Z", "+00:00")).replace(tzinfo=None)


class ReadModel:
    def __init__(self, sm, settings: OcpiSettings, metrics: OcpiMetrics, *, topic_prefix: str,
                 presence: PresenceView | None = None, on_change: Callable[[], None] | None = None):
        self.sm = sm
        self.settings = settings
        self.metrics = metrics
        self.prefix = topic_prefix
        self.presence = presence
        self.on_change = on_change or (lambda: None)
        self.operator = BusinessDetails(name=settings.business_name, website=settings.business_website)
        # The consumer and the presence sweep both rebuild location documents from station state.
        # Run concurrently, each could rebuild from a snapshot without the other's change and the
        # later commit would win with a stale document. One writer at a time in this process;
        # across replicas (PostgreSQL) the location row lock in _locked_location does the same.
        self._write = asyncio.Lock()

    # --- consumer entry point -------------------------------------------------------------
    async def handle(self, deliveries: list[Delivery]) -> None:
        async with self._write:
            await self._handle(deliveries)
        self.on_change()

    async def _handle(self, deliveries: list[Delivery]) -> None:
        async with self.sm.begin() as db:
            partners = await _Partners.load(db)
            for d in deliveries:
                base = d.topic.removeprefix(self.prefix)
                key = d.key.decode() if d.key is not None else ""
                try:
                    await self.apply(db, partners, base, key, d.event)
                except (ValidationError, ValueError) as exc:
                    self.metrics.events.labels(d.event.type if d.event else base, "rejected").inc()
                    raise Rejected(d, "not_ocpi_servable", str(exc)[:500]) from exc

    async def apply(self, db: AsyncSession, partners: _Partners, base: str, key: str, event: Event | None) -> None:
        if base == "tariffs" and event is None:
            await self._tariff_removed(db, partners, key)
        elif isinstance(event, LocationPublished):
            await self._location(db, partners, event)
        elif isinstance(event, TariffPublished):
            await self._tariff(db, partners, event)
        elif isinstance(event, StationStatusChanged):
            await self._status(db, partners, event)
        elif isinstance(event, SessionUpdated):
            await self._session(db, partners, event)
        elif isinstance(event, CdrIssued):
            await self._cdr(db, partners, event)
        else:
            return  # other station facts are not OCPI's business
        self.metrics.events.labels(event.type if event else "tombstone", "applied").inc()

    # --- locations and EVSE status ------------------------------------------------------------
    async def _location(self, db: AsyncSession, partners: _Partners, event: LocationPublished) -> None:
        rec = event.payload
        key = f"{rec.country_code}/{rec.party_id}/{rec.location.id}"
        row = await _locked_location(db, key)
        rec_time = naive_utc(rec.last_updated)
        if row is not None and rec_time < row.record_updated:
            self.metrics.events.labels(event.type, "stale").inc()
            return
        if row is None:
            row = LocationRow(key=key, country_code=rec.country_code, party_id=rec.party_id,
                              location_id=rec.location.id, ocpi="", last_updated=rec_time)
            db.add(row)
        row.record = rec.model_dump_json()
        row.record_updated = rec_time
        await db.execute(delete(EvseSlot).where(EvseSlot.location_key == key))
        await db.flush()
        for e in rec.location.evses:
            await db.merge(EvseSlot(station_id=e.station_id, ocpp_evse_id=e.ocpp_evse_id, location_key=key,
                                    evse_uid=e.uid))
        await self._recompute(db, partners, row, changed_at=rec_time, put=True)

    async def _status(self, db: AsyncSession, partners: _Partners, event: StationStatusChanged) -> None:
        p = event.payload
        station = event.station_id or ""
        at = naive_utc(event.occurred_at)
        if p.evse_id == 0:
            st = await db.get(StationState, station)
            if st is None:
                st = StationState(station_id=station, online=False)
                db.add(st)
            if st.station_status_at is not None and at < st.station_status_at:
                self.metrics.events.labels(event.type, "stale").inc()
                return
            st.station_status, st.station_status_at = p.status.value, at
        else:
            conn = p.connector_id or 0
            current = await db.get(ConnectorState, (station, p.evse_id, conn))
            if current is not None and at < current.occurred_at:
                self.metrics.events.labels(event.type, "stale").inc()
                return
            # An EVSE-level status replaces the connector ones and vice versa.
            other = ConnectorState.connector_id != 0 if conn == 0 else ConnectorState.connector_id == 0
            await db.execute(delete(ConnectorState).where(
                ConnectorState.station_id == station, ConnectorState.ocpp_evse_id == p.evse_id, other))
            await db.merge(ConnectorState(station_id=station, ocpp_evse_id=p.evse_id, connector_id=conn,
                                          status=p.status.value, detail=p.detail, occurred_at=at))
        await db.flush()
        await self._recompute_station(db, partners, station, None if p.evse_id == 0 else p.evse_id, at)

    async def _recompute_station(self, db: AsyncSession, partners: _Partners, station: str,
                                 evse_id: int | None, at: datetime) -> None:
        q = select(EvseSlot.location_key).where(EvseSlot.station_id == station)
        if evse_id is not None:
            q = q.where(EvseSlot.ocpp_evse_id == evse_id)
        for key in sorted(set((await db.execute(q)).scalars())):
            row = await _locked_location(db, key)
            if row is not None:
                await self._recompute(db, partners, row, changed_at=at, put=False)

    async def _recompute(self, db: AsyncSession, partners: _Partners, row: LocationRow, *,
                         changed_at: datetime, put: bool) -> None:
        rec = LocationRecord.model_validate_json(row.record)
        prev = orjson.loads(row.ocpi) if row.ocpi else None
        prev_evses = {e["uid"]: (e["status"], _lu(e)) for e in (prev or {}).get("evses", [])}
        stations = {e.station_id for e in rec.location.evses}
        st_rows = {s.station_id: s for s in (await db.execute(
            select(StationState).where(StationState.station_id.in_(stations)))).scalars()}
        conn_rows: dict[tuple[str, int], list[str]] = {}
        for c in (await db.execute(select(ConnectorState).where(ConnectorState.station_id.in_(stations)))).scalars():
            conn_rows.setdefault((c.station_id, c.ocpp_evse_id), []).append(c.status)
        record_time = naive_utc(rec.last_updated)
        states: dict[str, tuple] = {}
        changed: list[str] = []
        for e in rec.location.evses:
            st = st_rows.get(e.station_id)
            view = mapping.StationView(st.online, st.station_status, None) if st else None
            status = mapping.evse_status(removed=mapping.location_removed(rec, e.uid), station=view,
                                         connector_statuses=conn_rows.get((e.station_id, e.ocpp_evse_id), []))
            before = prev_evses.get(e.uid)
            if before is None:
                lu = max(record_time, changed_at)
            elif before[0] == status.value:
                lu = before[1]
            else:  # last_updated is monotone per EVSE, even if a charger clock lags
                lu = max(changed_at, before[1] + mapping.ONE_MS)
                changed.append(e.uid)
            states[e.uid] = (status, lu.replace(tzinfo=None))
        loc = mapping.build_location(
            rec, evse_states={k: (s, t.replace(tzinfo=UTC)) for k, (s, t) in states.items()},
            operator=self.operator)
        doc = loc.to_ocpi()
        text = orjson.dumps(doc).decode()
        if text == row.ocpi:
            return
        row.ocpi = text
        row.last_updated = naive_utc(loc.last_updated)
        targets = partners.receiving("locations")
        if put or prev is None:
            await enqueue(db, targets, module="locations", object_key=row.key, kind="put", body=doc,
                          last_updated=row.last_updated)
        else:
            for evse in doc.get("evses", []):
                if evse["uid"] in changed:
                    await enqueue(db, targets, module="locations", object_key=row.key, kind="patch_evse",
                                  sub_key=evse["uid"], body={"status": evse["status"], "last_updated": evse["last_updated"]},
                                  last_updated=_lu(evse))

    async def sweep_presence(self) -> int:
        """Offline stations show UNKNOWN: compare the presence view (lease-aware) with the stored
        online flags and recompute the locations of stations that changed. Returns changes."""
        if self.presence is None:
            return 0
        now = now_naive()
        changes = 0
        async with self._write, self.sm.begin() as db:
            partners = await _Partners.load(db)
            stations = set((await db.execute(select(EvseSlot.station_id))).scalars())
            rows = {s.station_id: s for s in (await db.execute(select(StationState))).scalars()}
            for station in sorted(stations | set(rows)):
                online = self.presence.is_online(station)
                st = rows.get(station)
                if st is None:
                    if not online:
                        continue
                    st = StationState(station_id=station, online=False)
                    db.add(st)
                if st.online == online:
                    continue
                if station in rows:  # another replica may have just recorded it: re-check under the row lock
                    st = await db.get(StationState, station, with_for_update=True, populate_existing=True)
                    if st.online == online:
                        continue
                st.online, st.online_changed_at = online, now
                await db.flush()
                await self._recompute_station(db, partners, station, None, now)
                changes += 1
        if changes:
            self.on_change()
        return changes

    # --- tariffs ------------------------------------------------------------------------------
    async def _tariff(self, db: AsyncSession, partners: _Partners, event: TariffPublished) -> None:
        t = event.payload.tariff
        key = f"{t.country_code}/{t.party_id}/{t.id}"
        doc = t.to_ocpi()
        lu = naive_utc(t.last_updated)
        row = (await db.execute(select(TariffRow).where(TariffRow.key == key))).scalar()
        if row is not None and lu < row.last_updated:
            self.metrics.events.labels(event.type, "stale").inc()
            return
        text = orjson.dumps(doc).decode()
        if row is not None and row.ocpi == text:
            return
        if row is None:
            row = TariffRow(key=key, country_code=t.country_code, party_id=t.party_id, tariff_id=t.id)
            db.add(row)
        row.ocpi, row.last_updated = text, lu
        await enqueue(db, partners.receiving("tariffs"), module="tariffs", object_key=key, kind="put", body=doc,
                      last_updated=lu)

    async def _tariff_removed(self, db: AsyncSession, partners: _Partners, key: str) -> None:
        row = (await db.execute(select(TariffRow).where(TariffRow.key == key))).scalar()
        if row is None:
            return
        await db.delete(row)
        await enqueue(db, partners.receiving("tariffs"), module="tariffs", object_key=key, kind="delete",
                      body=None, last_updated=now_naive())

    # --- sessions and CDRs ------------------------------------------------------------------
    async def _session(self, db: AsyncSession, partners: _Partners, event: SessionUpdated) -> None:
        s = event.payload
        row = (await db.execute(select(SessionRow).where(SessionRow.session_id == s.session_id))).scalar()
        if row is not None and s.version <= row.version:
            self.metrics.events.labels(event.type, "stale").inc()
            return
        try:
            session = mapping.build_session(
                s, default_country=self.settings.country_code, default_party=self.settings.party_id,
                default_currency=self.settings.currency)
        except mapping.NotServable as exc:
            log.info("session_not_servable", session_id=s.session_id, reason=str(exc))
            self.metrics.events.labels(event.type, "not_servable").inc()
            return
        doc = session.to_ocpi()
        prev = orjson.loads(row.ocpi) if row is not None else None
        lu = naive_utc(session.last_updated)
        if prev is not None and lu <= row.last_updated:  # last_updated stays monotone per session
            lu = row.last_updated + mapping.ONE_MS
            doc["last_updated"] = _fmt(lu)
        if row is None:
            row = SessionRow(session_id=s.session_id, country_code=doc["country_code"], party_id=doc["party_id"])
            db.add(row)
        row.version = s.version
        row.token_country_code = doc["cdr_token"]["country_code"].upper()
        row.token_party_id = doc["cdr_token"]["party_id"].upper()
        row.ocpi, row.last_updated = orjson.dumps(doc).decode(), lu
        body = doc if prev is None else {k: v for k, v in doc.items() if prev.get(k) != v}
        body["last_updated"] = doc["last_updated"]
        await enqueue(db, partners.receiving("sessions", (row.token_country_code, row.token_party_id)),
                      module="sessions", object_key=f"{doc['country_code']}/{doc['party_id']}/{doc['id']}",
                      kind="put" if prev is None else "patch", body=body, last_updated=lu)

    async def _cdr(self, db: AsyncSession, partners: _Partners, event: CdrIssued) -> None:
        cdr = mapping.build_cdr(event.payload.cdr)
        if (await db.execute(select(CdrRow.seq).where(CdrRow.cdr_id == cdr.id))).scalar() is not None:
            return  # a CDR is immutable; corrections come as a credit CDR with its own id
        doc = cdr.to_ocpi()
        party = (cdr.cdr_token.country_code.upper(), cdr.cdr_token.party_id.upper())
        lu = naive_utc(cdr.last_updated)
        db.add(CdrRow(cdr_id=cdr.id, country_code=cdr.country_code, party_id=cdr.party_id,
                      token_country_code=party[0], token_party_id=party[1], last_updated=lu,
                      ocpi=orjson.dumps(doc).decode()))
        await enqueue(db, partners.receiving("cdrs", party), module="cdrs",
                      object_key=f"{cdr.country_code}/{cdr.party_id}/{cdr.id}", kind="post", body=doc,
                      last_updated=lu)


async def _locked_location(db: AsyncSession, key: str) -> LocationRow | None:
    """The location row, locked until commit on PostgreSQL (FOR UPDATE; SQLite has one writer
    anyway and SQLAlchemy leaves the clause out there). Taken before station state is read, so
    with READ COMMITTED a replica rebuilding the same location after us sees our change."""
    return (await db.execute(select(LocationRow).where(LocationRow.key == key).with_for_update())).scalar()


def _fmt(dt: datetime) -> str:
    return format_datetime(dt)


class _Partners:
    """Registered partners of one batch and the Receiver modules they implement."""

    def __init__(self, partners: list[Partner]):
        self.partners = partners

    @classmethod
    async def load(cls, db: AsyncSession) -> _Partners:
        rows = (await db.execute(select(Partner).where(Partner.state == "registered"))).scalars().all()
        return cls(list(rows))

    def receiving(self, module: str, party: tuple[str, str] | None = None) -> list[int]:
        out = []
        for p in self.partners:
            if receiver_url(p, module) is None:
                continue
            if party is not None:
                roles = orjson.loads(p.roles or "[]")
                if not any(r.get("role") == "HUB" or (r["country_code"].upper(), r["party_id"].upper()) == party
                           for r in roles):
                    continue
            out.append(p.id)
        return out
