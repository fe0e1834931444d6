"""Unit tests of the OCPI adapter's pure parts: status mapping, token header, parameters, settings."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from pydantic import ValidationError

from libs.events.sessions import ChargingSession
from services.ocpi import mapping
from services.ocpi.api.common import OcpiError, parse_datetime_param, token_candidates
from services.ocpi.settings import OcpiSettings

ON = mapping.StationView(online=True, station_status=None, changed_at=None)


@pytest.mark.parametrize(("ocpp", "ocpi"), [
    ("Available", "AVAILABLE"), ("Occupied", "CHARGING"), ("Reserved", "RESERVED"),
    ("Unavailable", "INOPERATIVE"), ("Faulted", "OUTOFORDER"),
])
def test_design_status_table(ocpp, ocpi):
    assert mapping.evse_status(removed=False, station=ON, connector_statuses=[ocpp]).value == ocpi


def test_offline_never_seen_removed_and_station_level():
    off = mapping.StationView(online=False, station_status=None, changed_at=None)
    assert mapping.evse_status(removed=False, station=off, connector_statuses=["Available"]).value == "UNKNOWN"
    assert mapping.evse_status(removed=False, station=None, connector_statuses=[]).value == "UNKNOWN"
    assert mapping.evse_status(removed=False, station=ON, connector_statuses=[]).value == "UNKNOWN"
    assert mapping.evse_status(removed=True, station=ON, connector_statuses=["Available"]).value == "REMOVED"
    faulted = mapping.StationView(online=True, station_status="Faulted", changed_at=None)
    assert mapping.evse_status(removed=False, station=faulted, connector_statuses=["Available"]).value == "OUTOFORDER"
    avail0 = mapping.StationView(online=True, station_status="Available", changed_at=None)
    assert mapping.evse_status(removed=False, station=avail0, connector_statuses=["Occupied"]).value == "CHARGING"
    # two connectors: one charging → the EVSE is charging
    assert mapping.evse_status(removed=False, station=ON, connector_statuses=["Available", "Occupied"]).value == "CHARGING"


def test_token_header_base64_and_raw():
    tok = "abc-123_XYZ"
    assert token_candidates("Token " + base64.b64encode(tok.encode()).decode())[0] == tok
    assert tok in token_candidates(f"Token {tok}")
    assert token_candidates("Bearer x") == [] and token_candidates(None) == [] and token_candidates("Token") == []


def test_datetime_params_lenient_offsets_strict_shape():
    assert parse_datetime_param("d", "2026-01-10T08:00:00Z") == datetime(2026, 1, 10, 8)
    assert parse_datetime_param("d", "2026-01-10T08:00:00") == datetime(2026, 1, 10, 8)
    assert parse_datetime_param("d", "2026-01-10T10:00:00+02:00") == datetime(2026, 1, 10, 8)
    assert parse_datetime_param("d", "2026-01-10T08:00:00.123456789Z") == datetime(2026, 1, 10, 8, 0, 0, 123456)
    for bad in ("2026-01-10", "yesterday", "2026-02-30T00:00:00Z", "2026-01-10T25:00:00Z"):
        with pytest.raises(OcpiError) as err:
            parse_datetime_param("date_from", bad)
        assert err.value.http_status == 400 and err.value.status_code == 2001


def test_replicas_need_postgres():
    with pytest.raises(ValidationError):
        OcpiSettings(replicas=2, database_url="sqlite+aiosqlite:///x.db")
    assert OcpiSettings(replicas=3, database_url="postgresql+asyncpg://u@h/db").replicas == 3


def test_session_mapping_units_and_not_servable():
    base = {"session_id": "s", "version": 1, "station_id": "CS1", "transaction_ref": "1",
            "start_date_time": "2026-01-10T08:00:00Z", "status": "ACTIVE", "last_updated": "2026-01-10T08:30:00Z",
            "kwh": "5.5", "charging_periods": [{"start_date_time": "2026-01-10T08:00:00Z", "end_date_time":
                                                "2026-01-10T08:30:00Z", "state": "idle", "energy_wh": 0}]}
    with pytest.raises(mapping.NotServable):
        mapping.build_session(ChargingSession.model_validate(base), default_country="DE", default_party="VST",
                              default_currency="EUR")
    s = ChargingSession.model_validate({**base, "location_id": "L", "evse_uid": "E", "connector_uid": "1",
                                        "cdr_token": {"uid": "u", "contract_id": "c", "country_code": "NL",
                                                      "party_id": "EMS"}})
    doc = mapping.build_session(s, default_country="DE", default_party="VST", default_currency="EUR").to_ocpi()
    assert doc["charging_periods"][0]["dimensions"] == [{"type": "ENERGY", "volume": 0}, {"type": "PARKING_TIME", "volume": 0.5}]
    assert doc["currency"] == "EUR" and doc["country_code"] == "DE" and doc["kwh"] == 5.5


def test_push_claims_heads_with_skip_locked_on_postgresql_only():
    from sqlalchemy.dialects import postgresql, sqlite

    from services.ocpi.push import due_heads

    stmt = due_heads(datetime(2026, 1, 10, 8))
    assert str(stmt.compile(dialect=postgresql.dialect())).rstrip().endswith("FOR UPDATE SKIP LOCKED")
    assert "FOR UPDATE" not in str(stmt.compile(dialect=sqlite.dialect()))


async def test_list_versions_bump_with_writes_and_gate_cached_counts(tmp_path):
    from sqlalchemy import select

    from services.ocpi.api.listing import TotalCounts
    from services.ocpi.db import CdrRow, ListVersion, create_schema, make_engine, sessionmaker

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}")
    await create_schema(engine)
    await create_schema(engine)  # idempotent: an existing database keeps its version rows
    sm = sessionmaker(engine)

    async def version() -> int:
        async with sm() as db:
            return (await db.execute(select(ListVersion.version).where(ListVersion.name == "cdrs"))).scalar_one()
    assert await version() == 0
    async with sm.begin() as db:
        db.add(CdrRow(cdr_id="C1", country_code="DE", party_id="VST", last_updated=datetime(2026, 1, 1), ocpi="{}"))
    assert await version() == 1
    async with sm.begin() as db:
        (await db.execute(select(CdrRow))).scalar_one().ocpi = '{"id":"C1"}'
    assert await version() == 2
    await engine.dispose()

    counts = TotalCounts()
    counts.put(("cdrs",), 2, 1)
    assert counts.get(("cdrs",), 2) == 1 and counts.get(("cdrs",), 3) is None
    counts.put(("cdrs",), None, 5)  # no version row: never cached
    assert counts.get(("cdrs",), None) is None


async def test_sqlite_reader_and_engine_reader_agree(tmp_path):
    """The SQLite fast path binds datetimes as SQLAlchemy stores them: same rows as the engine."""
    from services.ocpi.api.reader import Reader, make_reader
    from services.ocpi.db import CdrRow, create_schema, make_engine, sessionmaker

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    await create_schema(engine)
    async with sessionmaker(engine).begin() as db:
        for i, lu in enumerate((datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 8, 0, 0, 1000), datetime(2026, 1, 1, 9))):
            db.add(CdrRow(cdr_id=f"C{i}", country_code="DE", party_id="VST", last_updated=lu, ocpi=f'"C{i}"'))
    fast, plain = make_reader(engine), Reader(engine)
    assert type(fast).__name__ == "SqliteReader"
    sql = "SELECT ocpi FROM cdrs WHERE last_updated >= :a AND last_updated < :b ORDER BY seq"
    params = {"a": datetime(2026, 1, 1, 8), "b": datetime(2026, 1, 1, 9)}
    assert await fast.rows(sql, params, quick=True) == await fast.rows(sql, params) == await plain.rows(sql, params)
    assert [r[0] for r in await plain.rows(sql, params)] == ['"C0"', '"C1"']
    fast.close()
    await engine.dispose()
