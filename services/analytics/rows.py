"""Row mappers, one per topic: a decoded event -> (table, row tuple in the table's column order).

Pure functions, no I/O. A mapper raises `RowError` for an event it can never turn into a row
(the sink sends it to dlq.analytics); events of types a table does not hold map to None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from libs.events.envelope import Event
from libs.events.sessions import CdrIssued, PeriodState, SessionUpdated
from libs.events.station import StationStatusChanged
from libs.events.transactions import MeterSampled, OcppFrameLogged


class RowError(ValueError):
    """The event cannot become a row of its table."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]


METER_VALUES = Table("meter_values", (
    "event_id", "station_id", "evse_id", "connector_id", "transaction_ref", "session_id", "occurred_at",
    "received_at", "clock_suspect", "measurand", "phase", "location", "context", "value", "unit",
    "signed_data", "seq_no", "source",
))
SESSIONS = Table("sessions", (
    "session_id", "version", "event_id", "station_id", "evse_id", "connector_id", "transaction_ref",
    "country_code", "party_id", "location_id", "evse_uid", "connector_uid", "currency", "tariff_ids",
    "token_uid", "token_type", "contract_id", "auth_method", "start_date_time", "end_date_time",
    "meter_start_wh", "meter_stop_wh", "kwh", "charging_seconds", "suspended_seconds", "idle_seconds",
    "max_power_w", "status", "final", "amended", "flags", "last_updated", "received_at", "charging_periods",
))
CDRS = Table("cdrs", (
    "cdr_id", "event_id", "session_id", "session_version", "credit", "credit_reference_id", "country_code",
    "party_id", "location_id", "evse_uid", "station_id", "start_date_time", "end_date_time", "currency",
    "tariff_ids", "token_uid", "contract_id", "auth_method", "total_energy_kwh", "total_time_hours",
    "total_parking_time_hours", "total_cost_excl_vat", "total_cost_incl_vat", "total_energy_cost_excl_vat",
    "total_time_cost_excl_vat", "last_updated", "received_at", "cdr",
))
STATION_STATUS = Table("station_status", (
    "event_id", "station_id", "evse_id", "connector_id", "occurred_at", "received_at", "clock_suspect",
    "status", "detail", "error_code", "info", "vendor_id", "vendor_error_code", "source",
))
STATION_EVENTS = Table("station_events", (
    "event_id", "type", "station_id", "occurred_at", "received_at", "clock_suspect", "source", "payload",
))
OCPP_FRAMES = Table("ocpp_frames", (
    "event_id", "station_id", "connection_id", "seq", "direction", "protocol", "message_type", "message_id",
    "action", "occurred_at", "received_at", "raw",
))
TABLES = (METER_VALUES, SESSIONS, CDRS, STATION_STATUS, STATION_EVENTS, OCPP_FRAMES)

# topic base name -> the topics the sink consumes
TOPICS = ("meter-values", "sessions", "cdrs", "station-events", "ocpp-frames")


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _u16(value: int | None) -> int:
    value = value or 0
    if not 0 <= value <= 65535:
        raise RowError(f"EVSE/connector id {value} out of range")
    return value


def _json(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def meter_row(e: MeterSampled) -> tuple:
    p = e.payload
    return meter_row_values(
        e.event_id, e.station_id, e.occurred_at, e.received_at, e.clock_suspect, e.source, p.evse_id,
        p.connector_id, p.transaction_ref, p.session_id, p.measurand, p.phase, p.location, p.context,
        p.value, p.unit, p.signed_data, p.seq_no,
    )


def meter_row_values(event_id, station_id, occurred_at, received_at, clock_suspect, source, evse_id,  # noqa: PLR0913
                     connector_id, transaction_ref, session_id, measurand, phase, location, context,
                     value, unit, signed_data, seq_no) -> tuple:
    """The meter_values row from validated fields: shared by the event path and the fast decoder
    (services/analytics/fastmeter.py), so both give the same row."""
    return (
        event_id, station_id or "", _u16(evse_id), _u16(connector_id), _s(transaction_ref),
        _s(session_id), occurred_at, received_at, clock_suspect, measurand, _s(phase),
        _s(location), _s(context), value, unit, _json(signed_data), seq_no, source.value,
    )


def session_row(e: SessionUpdated) -> tuple:
    s = e.payload
    seconds = {state: 0.0 for state in PeriodState}
    max_power = None
    for period in s.charging_periods:
        seconds[period.state] += (period.end_date_time - period.start_date_time).total_seconds()
        if period.max_power_w is not None:
            max_power = max(max_power or 0.0, period.max_power_w)
    token = s.cdr_token
    return (
        s.session_id, s.version, e.event_id, s.station_id, _u16(s.evse_id), _u16(s.connector_id),
        s.transaction_ref, _s(s.country_code), _s(s.party_id), _s(s.location_id), _s(s.evse_uid),
        _s(s.connector_uid), _s(s.currency), list(s.tariff_ids), token.uid if token else "",
        token.type if token else "", token.contract_id if token else "", s.auth_method.value,
        s.start_date_time, s.end_date_time, s.meter_start_wh, s.meter_stop_wh, s.kwh,
        seconds[PeriodState.CHARGING], seconds[PeriodState.SUSPENDED], seconds[PeriodState.IDLE], max_power,
        s.status.value, s.final, s.amended, list(s.flags), s.last_updated, e.received_at,
        orjson.dumps([p.model_dump(mode="json") for p in s.charging_periods]).decode(),
    )


def _dec(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise RowError(f"cdr.{field} is not a number: {value!r}") from exc


def _price(cdr: dict, field: str, part: str = "excl_vat") -> Decimal | None:
    price = cdr.get(field)
    if price is None:
        return None
    if not isinstance(price, dict):
        raise RowError(f"cdr.{field} is not a Price")
    return _dec(price.get(part), f"{field}.{part}")


def _time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RowError(f"cdr.{field} is not a date-time: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def cdr_row(e: CdrIssued) -> tuple:
    r = e.payload
    cdr = r.cdr
    for field in ("total_cost", "total_energy", "start_date_time", "end_date_time", "currency"):
        if cdr.get(field) is None:
            raise RowError(f"cdr.{field} missing")
    location = cdr.get("cdr_location") or {}
    token = cdr.get("cdr_token") or {}
    total_cost = _price(cdr, "total_cost")
    if total_cost is None:
        raise RowError("cdr.total_cost.excl_vat missing")
    return (
        r.cdr_id, e.event_id, r.session_id, r.session_version, r.credit, _s(r.credit_reference_id),
        _s(cdr.get("country_code")), _s(cdr.get("party_id")), _s(location.get("id")), _s(location.get("evse_uid")),
        e.station_id or _s(cdr.get("station_id")), _time(cdr["start_date_time"], "start_date_time"),
        _time(cdr["end_date_time"], "end_date_time"), _s(cdr.get("currency")),
        [_s(t.get("id")) for t in cdr.get("tariffs") or [] if isinstance(t, dict)],
        _s(token.get("uid")), _s(token.get("contract_id")), _s(cdr.get("auth_method")),
        _dec(cdr.get("total_energy"), "total_energy"), _dec(cdr.get("total_time"), "total_time") or Decimal(0),
        _dec(cdr.get("total_parking_time"), "total_parking_time") or Decimal(0), total_cost,
        _price(cdr, "total_cost", "incl_vat"), _price(cdr, "total_energy_cost"), _price(cdr, "total_time_cost"),
        _time(cdr.get("last_updated") or e.occurred_at, "last_updated"), e.received_at, _json(cdr),
    )


def status_row(e: StationStatusChanged) -> tuple:
    p = e.payload
    return (
        e.event_id, e.station_id or "", _u16(p.evse_id), _u16(p.connector_id), e.occurred_at, e.received_at,
        e.clock_suspect, p.status.value, _s(p.detail), _s(p.error_code), _s(p.info), _s(p.vendor_id),
        _s(p.vendor_error_code), e.source.value,
    )


def station_event_row(e: Event) -> tuple:
    return (
        e.event_id, e.type, e.station_id or "", e.occurred_at, e.received_at, e.clock_suspect, e.source.value,
        orjson.dumps(e.payload.model_dump(mode="json")).decode(),
    )


def frame_row(e: OcppFrameLogged) -> tuple:
    p = e.payload
    return (
        e.event_id, e.station_id or "", p.connection_id, p.seq, p.direction, p.protocol, p.message_type or 0,
        _s(p.message_id), _s(p.action), e.occurred_at, e.received_at, p.raw,
    )


Mapper = Callable[[Any], tuple]
_BY_TYPE: dict[str, tuple[Table, Mapper]] = {
    MeterSampled.TYPE: (METER_VALUES, meter_row),
    SessionUpdated.TYPE: (SESSIONS, session_row),
    CdrIssued.TYPE: (CDRS, cdr_row),
    StationStatusChanged.TYPE: (STATION_STATUS, status_row),
    OcppFrameLogged.TYPE: (OCPP_FRAMES, frame_row),
}
# station-events that are not status changes land in station_events
_STATION_EVENTS_TOPIC = "station-events"


def to_row(event: Event) -> tuple[Table, tuple] | None:
    """The table and row for an event, or None when no table holds its type."""
    found = _BY_TYPE.get(event.type)
    if found is not None:
        table, mapper = found
        return table, mapper(event)
    if event.TOPIC == _STATION_EVENTS_TOPIC:
        return STATION_EVENTS, station_event_row(event)
    return None
