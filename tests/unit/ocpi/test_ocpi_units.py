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
