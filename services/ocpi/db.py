"""The read model and the partner registry (SQLAlchemy async; SQLite file or PostgreSQL).

Served objects are stored as the exact OCPI JSON partners receive (`ocpi` column), so a page of
a list is a range scan plus string concatenation. Every list orders by `seq` (insertion order),
which is stable while a partner crawls the pages (transport_and_format.asciidoc, Pagination).
Narrow `*_page` indexes on (…, seq, last_updated) let OFFSET step through index entries instead of
the wide rows. `list_versions` changes with every write to a served list, in the same transaction,
so the API can cache X-Total-Count until the list changes.
Datetimes are naive UTC in the database (SQLite has no time zones).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from itertools import chain

from sqlalchemy import (
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Partner(Base):
    """A connected platform (eMSP, multi-brand eMSP or hub): one credentials exchange, many roles."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    # invited (token A issued) → registered; registering (we started towards them) → registered;
    # unregistered (DELETE or by us).
    state: Mapped[str] = mapped_column(String(16))
    # The credentials token this partner uses to call us (A while invited, then C or our B).
    token_in: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # The credentials token we use to call them (their B, or the C they gave us).
    token_out: Mapped[str | None] = mapped_column(String(64), nullable=True)
    versions_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    endpoints: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of Endpoint
    roles: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of CredentialsRole
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now_naive)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_naive)


class LocationRow(Base):
    __tablename__ = "locations"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # cc/pid/id
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    location_id: Mapped[str] = mapped_column(String(36))
    record: Mapped[str] = mapped_column(Text)  # catalog LocationRecord JSON
    record_updated: Mapped[datetime] = mapped_column(DateTime)
    last_updated: Mapped[datetime] = mapped_column(DateTime, index=True)
    ocpi: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_locations_object", "country_code", "party_id", "location_id"),
                      Index("ix_locations_page", "seq", "last_updated"),
                      Index("ix_locations_id", "location_id", "seq"))  # the object endpoints' lookup


class EvseSlot(Base):
    """Where an OCPP (station, evse) sits: location and EVSE uid, its status state."""

    __tablename__ = "evse_slots"
    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    ocpp_evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_key: Mapped[str] = mapped_column(String(128), index=True)
    evse_uid: Mapped[str] = mapped_column(String(36))


class ConnectorState(Base):
    """Latest OCPP status per (station, evse, connector); connector 0 = the EVSE as a whole."""

    __tablename__ = "connector_states"
    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    ocpp_evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(32), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)


class StationState(Base):
    __tablename__ = "stations"
    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    online_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # evse_id 0 status (1.6 connector 0 / 2.0.1 station level); Unavailable/Faulted override all EVSEs
    station_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    station_status_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TariffRow(Base):
    __tablename__ = "tariffs"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    tariff_id: Mapped[str] = mapped_column(String(36))
    last_updated: Mapped[datetime] = mapped_column(DateTime, index=True)
    ocpi: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_tariffs_page", "seq", "last_updated"),)


class SessionRow(Base):
    __tablename__ = "sessions"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(36), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    # the eMSP that owns the token: only it (or a hub) sees the session
    token_country_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    token_party_id: Mapped[str | None] = mapped_column(String(3), nullable=True)
    last_updated: Mapped[datetime] = mapped_column(DateTime, index=True)
    ocpi: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_sessions_page", "seq", "last_updated"),
                      Index("ix_sessions_party_page", "token_country_code", "token_party_id", "seq", "last_updated"))


class CdrRow(Base):
    __tablename__ = "cdrs"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cdr_id: Mapped[str] = mapped_column(String(39), unique=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    token_country_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    token_party_id: Mapped[str | None] = mapped_column(String(3), nullable=True)
    last_updated: Mapped[datetime] = mapped_column(DateTime, index=True)
    ocpi: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_cdrs_page", "seq", "last_updated"),
                      Index("ix_cdrs_party_page", "token_country_code", "token_party_id", "seq", "last_updated"))


class ListVersion(Base):
    """One row per served list; bumped with every change to it (see ReadModelSession)."""

    __tablename__ = "list_versions"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


LISTED = (LocationRow, TariffRow, SessionRow, CdrRow)


class ReadModelSession(Session):
    """The ORM session of this service: a flush that touches a served list bumps its version."""


@event.listens_for(ReadModelSession, "before_flush")
def _bump_list_versions(session: Session, _ctx, _instances) -> None:
    names = {type(o).__tablename__ for o in chain(session.new, session.dirty, session.deleted) if isinstance(o, LISTED)}
    for name in sorted(names):  # a fixed order: concurrent PostgreSQL writers never deadlock on it
        session.connection().execute(
            update(ListVersion).where(ListVersion.name == name).values(version=ListVersion.version + 1))


class OutboxRow(Base):
    """One change to deliver to one partner. Per (partner, module, object_key) in `seq` order."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    module: Mapped[str] = mapped_column(String(16))
    object_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # put, patch_evse, patch, post, delete
    sub_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # evse uid for patch_evse
    body: Mapped[str] = mapped_column(Text)
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending, done, skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=now_naive)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_outbox_pending", "state", "partner_id", "module", "object_key", "seq"),)


class Delivered(Base):
    """What a partner already has of one object: PUT done, and the newest last_updated sent."""

    __tablename__ = "delivered"
    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    sub_key: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("partner_id", "module", "object_key", "sub_key"),)


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if url.startswith("sqlite"):
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # WAL: readers never wait for the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    return engine


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(_upgrade)


def _upgrade(conn) -> None:
    """What create_all leaves out on an existing database: indexes added later, version rows."""
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    have = set(conn.execute(select(ListVersion.name)).scalars())
    missing = [{"name": t.__tablename__, "version": 0} for t in LISTED if t.__tablename__ not in have]
    if missing:
        insert = _dialect_insert(conn.dialect.name)(ListVersion).values(missing)
        conn.execute(insert.on_conflict_do_nothing())  # another replica may be creating them too


def _dialect_insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class GatedSessionmaker(async_sessionmaker):
    """`begin()` transactions of one process take turns on SQLite.

    SQLite has one writer per database file. Without the gate, the consumer, the pusher's parallel
    deliveries and the API's writes each waited in SQLite's busy handler, which sleeps 1 to 100 ms
    per retry: under load that was most of the OCPI service's stop -> CDR latency (py-spy: the
    connection threads sat in sqlite3InvokeBusyHandler). Queued on an asyncio lock instead, a writer
    starts the moment the previous one commits. PostgreSQL locks rows itself: no gate. Never open a
    `begin()` inside another one (the lock is not re-entrant; on SQLite that deadlocked anyway)."""

    def __init__(self, engine: AsyncEngine, **kwargs) -> None:
        super().__init__(engine, **kwargs)
        self._gate = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self._gate is None:
            async with super().begin() as db:
                yield db
            return
        async with self._gate, super().begin() as db:
            yield db


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return GatedSessionmaker(engine, expire_on_commit=False, sync_session_class=ReadModelSession)
