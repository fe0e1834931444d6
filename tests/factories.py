"""One realistic example of every event type, for contract tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from libs.catalog.models import CredentialRecord
from libs.events import control, reference, sessions, station, transactions
from libs.events.envelope import Event, Source
from libs.events.registry import EVENT_CLASSES

T0 = datetime(2026, 11, 25, 8, 30, 0, tzinfo=UTC)
RECEIVED = T0 + timedelta(seconds=2)
TARIFF = {
    "country_code": "DE", "party_id": "VST", "id": "T1", "currency": "EUR", "last_updated": T0,
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1}]}],
}
TOKEN = {
    "country_code": "DE", "party_id": "VST", "uid": "04A1", "type": "RFID", "contract_id": "DE-VST-C1",
    "issuer": "Voltstream", "valid": True, "whitelist": "ALWAYS", "last_updated": T0,
}
LOCATION = {
    "id": "LOC1", "address": "Main 1", "city": "Berlin", "country": "DEU", "time_zone": "Europe/Berlin",
    "coordinates": {"latitude": "52.52188", "longitude": "13.41322"},
    "evses": [{"uid": "E1", "station_id": "CS1", "connectors": [
        {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
         "max_voltage": 230, "max_amperage": 32}]}],
}


def _tx(**extra):
    return {"transaction_ref": "1234", "evse_id": 1, "connector_id": 1, "id_token": {"id_token": "04A1"}, **extra}


SAMPLE_PAYLOADS: dict[type[Event], dict] = {
    station.StationBooted: {"vendor": "ACME", "model": "X1", "registration_status": "Accepted", "heartbeat_interval": 300},
    station.StationHeartbeat: {},
    station.StationStatusChanged: {"evse_id": 1, "connector_id": 1, "status": "Occupied", "detail": "Charging"},
    station.StationConnected: {"gateway_instance": "gw-1", "connection_id": "c1", "protocol": "ocpp1.6"},
    station.StationDisconnected: {"gateway_instance": "gw-1", "connection_id": "c1", "protocol": "ocpp1.6", "reason": "ping_timeout"},
    station.FirmwareStatusChanged: {"status": "Downloading", "request_id": 7},
    station.DiagnosticsStatusChanged: {"status": "Uploaded"},
    station.SecurityEventReported: {"event_type": "FirmwareUpdated", "tech_info": "v2"},
    station.StationEventsNotified: {"seq_no": 0, "events": [{"eventId": 1, "trigger": "Alerting"}]},
    station.StationReported: {"request_id": 3, "seq_no": 0, "report_data": [{"component": {"name": "X"}}]},
    station.DataTransferReceived: {"vendor_id": "com.acme", "message_id": "m", "data": {"a": 1}},
    station.TokenAuthorized: {"id_token": "04A1", "status": "Accepted", "decided_by": "index"},
    station.StationPresence: {"online": True, "gateway_instance": "gw-1", "connection_id": "c1", "since": T0},
    station.GatewayLease: {"instance_id": "gw-1", "renewed_at": T0, "expires_at": T0 + timedelta(seconds=15)},
    transactions.TransactionStarted: _tx(meter_start_wh=1000.0, remote_start_id=5),
    transactions.TransactionUpdated: _tx(charging_state="Charging", seq_no=1),
    transactions.TransactionEnded: _tx(meter_stop_wh=21000.0, stopped_reason="Local"),
    transactions.MeterSampled: {"evse_id": 1, "transaction_ref": "1234", "value": 1500.5, "unit": "Wh",
                                "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic"},
    transactions.OcppFrameLogged: {"connection_id": "c1", "seq": 4, "direction": "in", "protocol": "ocpp1.6",
                                   "raw": "[2,\"1\",\"Heartbeat\",{}]", "message_type": 2, "action": "Heartbeat"},
    control.CommandRequested: {"command_id": "cmd-1", "kind": "reset", "args": {"hard": True},
                               "expires_at": T0 + timedelta(seconds=60)},
    control.CommandResult: {"command_id": "cmd-1", "outcome": "answered", "status": "Accepted"},
    control.AuthRequested: {"request_id": "r1", "id_token": "04A1", "expires_at": T0 + timedelta(seconds=5)},
    control.AuthResponded: {"request_id": "r1", "allowed": "ALLOWED", "authorization_reference": "ref-1"},
    sessions.SessionUpdated: {
        "session_id": "s1", "version": 3, "station_id": "CS1", "transaction_ref": "1234",
        "start_date_time": T0, "status": "ACTIVE", "last_updated": RECEIVED, "kwh": Decimal("12.345"),
        "cdr_token": {"uid": "04A1", "contract_id": "DE-VST-C1", "country_code": "DE", "party_id": "VST"},
        "charging_periods": [{"start_date_time": T0, "end_date_time": RECEIVED, "state": "charging", "energy_wh": 12345.0}],
    },
    sessions.CdrIssued: {"cdr_id": "cdr-1", "session_id": "s1", "session_version": 3, "cdr": {"id": "cdr-1"}},
    reference.LocationPublished: {"record_key": "DE/VST/LOC1", "owner": "catalog", "last_updated": T0,
                                  "country_code": "DE", "party_id": "VST", "location": LOCATION},
    reference.TariffPublished: {"record_key": "DE/VST/T1", "owner": "catalog", "last_updated": T0, "tariff": TARIFF},
    reference.TokenPublished: {"record_key": "DE/VST/04A1/RFID", "owner": "partner:NL-EMS", "last_updated": T0, "token": TOKEN},
    reference.CredentialPublished: CredentialRecord(
        record_key="CS1/catalog", owner="catalog", last_updated=T0, station_id="CS1", security_profile=2,
        authorization_key_hash=None).model_dump(),
}
assert set(SAMPLE_PAYLOADS) == set(EVENT_CLASSES), set(EVENT_CLASSES) - set(SAMPLE_PAYLOADS)


def sample_event(cls: type[Event], station_id: str = "CS1", **overrides) -> Event:
    payload = {**SAMPLE_PAYLOADS[cls], **overrides}
    return cls.create(
        payload=payload, source=Source.OCPP16, station_id=station_id, occurred_at=T0, received_at=RECEIVED,
    )


def all_sample_events() -> list[Event]:
    return [sample_event(cls) for cls in EVENT_CLASSES]
