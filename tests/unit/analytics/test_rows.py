"""Row mappers: every column of every table is filled from the event, bad input is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from libs.events import sessions, station, transactions
from services.analytics.rows import (
    CDRS,
    METER_VALUES,
    OCPP_FRAMES,
    SESSIONS,
    STATION_EVENTS,
    STATION_STATUS,
    RowError,
    to_row,
)
from services.analytics.sink import is_rejection
from tests.factories import T0, sample_event


def as_dict(event):
    table, row = to_row(event)
    assert len(row) == len(table.columns)
    return table, dict(zip(table.columns, row, strict=True))


def test_meter_row():
    table, row = as_dict(sample_event(transactions.MeterSampled))
    assert table is METER_VALUES
    assert row["station_id"] == "CS1" and row["evse_id"] == 1 and row["connector_id"] == 0
    assert row["value"] == 1500.5 and row["unit"] == "Wh" and row["occurred_at"] == T0 and row["phase"] == ""


def test_session_row_sums_period_seconds():
    table, row = as_dict(sample_event(sessions.SessionUpdated))
    assert table is SESSIONS
    assert (row["session_id"], row["version"], row["kwh"], row["token_uid"]) == ("s1", 3, Decimal("12.345"), "04A1")
    assert row["charging_seconds"] == 2.0 and row["idle_seconds"] == 0.0


def test_cdr_row_and_refusals():
    cdr = {"total_cost": {"excl_vat": 3.9, "incl_vat": 4.64}, "total_energy": 10, "currency": "EUR",
           "start_date_time": "2026-11-25T08:00:00Z", "end_date_time": "2026-11-25T09:00:00Z",
           "tariffs": [{"id": "T1"}], "cdr_location": {"id": "LOC1"}}
    table, row = as_dict(sample_event(sessions.CdrIssued, cdr=cdr))
    assert table is CDRS
    assert row["total_cost_excl_vat"] == Decimal("3.9") and row["tariff_ids"] == ["T1"] and row["location_id"] == "LOC1"
    with pytest.raises(RowError):
        to_row(sample_event(sessions.CdrIssued, cdr={**cdr, "total_cost": None}))
    with pytest.raises(RowError):
        to_row(sample_event(sessions.CdrIssued, cdr={**cdr, "total_energy": "lots"}))


def test_status_other_station_events_and_frames():
    assert to_row(sample_event(station.StationStatusChanged))[0] is STATION_STATUS
    table, row = as_dict(sample_event(station.StationBooted))
    assert table is STATION_EVENTS and '"model":"X1"' in row["payload"]
    table, row = as_dict(sample_event(transactions.OcppFrameLogged))
    assert table is OCPP_FRAMES and row["action"] == "Heartbeat" and row["message_type"] == 2
    assert to_row(sample_event(transactions.TransactionStarted)) is None  # not a sink topic


def test_out_of_range_ids_are_refused():
    with pytest.raises(RowError):
        to_row(sample_event(transactions.MeterSampled, evse_id=70000))


def test_rejection_versus_outage():
    assert is_rejection(RowError("x"))
    assert is_rejection(OverflowError("x"))
    assert is_rejection(_db(53))  # TYPE_MISMATCH
    assert not is_rejection(OperationalError("connection refused"))
    assert not is_rejection(_db(241))  # MEMORY_LIMIT_EXCEEDED: transient


def _db(code: int) -> DatabaseError:
    exc = DatabaseError(f"Code: {code}. boom")
    exc.code = code
    return exc
