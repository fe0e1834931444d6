"""Events and catalog records → OCPI 2.2.1 objects (validated by libs.ocpi models).

EVSE status follows DESIGN.md "OCPP status → OCPI EVSE status":
Available → AVAILABLE; Occupied (1.6 Preparing/Charging/SuspendedEV/SuspendedEVSE/Finishing) →
CHARGING; Reserved → RESERVED; Unavailable → INOPERATIVE; Faulted → OUTOFORDER; station offline
or never seen → UNKNOWN; removed from the catalog → REMOVED. Station level (evse_id 0)
Unavailable/Faulted overrides every EVSE of the station.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from libs.catalog.models import LocationRecord
from libs.events.sessions import ChargingSession, PeriodState
from libs.events.station import ConnectorStatus
from libs.ocpi.models import CDR, EVSE, BusinessDetails, Connector, Hours, Location, Session
from libs.ocpi.types import Status

STATUS_MAP: dict[str, Status] = {
    ConnectorStatus.AVAILABLE: Status.AVAILABLE,
    ConnectorStatus.OCCUPIED: Status.CHARGING,
    ConnectorStatus.RESERVED: Status.RESERVED,
    ConnectorStatus.UNAVAILABLE: Status.INOPERATIVE,
    ConnectorStatus.FAULTED: Status.OUTOFORDER,
}
# When an EVSE's connectors disagree (2.0.1 EVSE with several connectors) the EVSE shows the
# most "in use" state: one connector charging means the EVSE is charging.
_PRIORITY = [Status.CHARGING, Status.RESERVED, Status.AVAILABLE, Status.INOPERATIVE, Status.OUTOFORDER]
STATION_OVERRIDES = {ConnectorStatus.UNAVAILABLE.value, ConnectorStatus.FAULTED.value}
ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class StationView:
    online: bool
    station_status: str | None  # evse_id 0 status
    changed_at: datetime | None  # newest of presence / station status changes


def evse_status(
    *, removed: bool, station: StationView | None, connector_statuses: list[str]
) -> Status:
    if removed:
        return Status.REMOVED
    if station is None or not station.online:
        return Status.UNKNOWN
    if station.station_status in STATION_OVERRIDES:
        return STATUS_MAP[station.station_status]
    mapped = {STATUS_MAP[s] for s in connector_statuses if s in STATUS_MAP}
    for status in _PRIORITY:
        if status in mapped:
            return status
    return Status.UNKNOWN


def _hours(opening) -> Hours:
    if opening.twentyfourseven:
        return Hours(twentyfourseven=True)
    # The catalog allows 24:00 as an end of day; OCPI's time regex stops at 23:59.
    return Hours(
        twentyfourseven=False,
        regular_hours=[
            {"weekday": h.weekday, "period_begin": h.period_begin,
             "period_end": "23:59" if h.period_end.startswith("24") else h.period_end}
            for h in opening.regular_hours
        ],
    )


def build_location(
    rec: LocationRecord,
    *,
    evse_states: dict[str, tuple[Status, datetime]],
    operator: BusinessDetails | None,
) -> Location:
    """The OCPI Location for a catalog record; `evse_states[uid]` = (status, EVSE last_updated)."""
    loc = rec.location
    record_time = rec.last_updated
    evses = []
    for e in loc.evses:
        status, evse_time = evse_states.get(e.uid, (Status.UNKNOWN, record_time))
        live = [c for c in e.connectors if not c.removed]
        connectors = live or list(e.connectors)  # all removed: keep them, the EVSE is REMOVED
        evses.append(EVSE(
            uid=e.uid, evse_id=e.evse_id, status=status,
            capabilities=list(e.capabilities) or None,
            connectors=[
                Connector(
                    id=c.id, standard=c.standard, format=c.format, power_type=c.power_type,
                    max_voltage=c.max_voltage, max_amperage=c.max_amperage,
                    max_electric_power=c.max_electric_power, tariff_ids=list(c.tariff_ids) or None,
                    terms_and_conditions=c.terms_and_conditions, last_updated=record_time,
                )
                for c in connectors
            ],
            floor_level=e.floor_level, physical_reference=e.physical_reference,
            parking_restrictions=list(e.parking_restrictions) or None,
            last_updated=max(evse_time, record_time),
        ))
    last_updated = max([record_time, *(e.last_updated for e in evses)])
    return Location(
        country_code=rec.country_code, party_id=rec.party_id, id=loc.id, publish=loc.publish,
        name=loc.name, address=loc.address, city=loc.city, postal_code=loc.postal_code,
        state=loc.state, country=loc.country,
        coordinates={"latitude": loc.coordinates.latitude, "longitude": loc.coordinates.longitude},
        parking_type=loc.parking_type, evses=evses or None, operator=operator,
        facilities=list(loc.facilities) or None, time_zone=loc.time_zone,
        opening_times=_hours(loc.opening_times), charging_when_closed=loc.charging_when_closed,
        last_updated=last_updated,
    )


def location_removed(rec: LocationRecord, evse_uid: str) -> bool:
    if rec.location.removed:
        return True
    for e in rec.location.evses:
        if e.uid == evse_uid:
            return e.removed or all(c.removed for c in e.connectors)
    return True


class NotServable(ValueError):
    """The event lacks what the OCPI object requires (e.g. a session without a token yet)."""


def _hours_between(a: datetime, b: datetime) -> Decimal:
    return (Decimal((b - a).total_seconds()) / Decimal(3600)).quantize(Decimal("0.000001"))


def _dec(v: float, places: str = "0.001") -> Decimal:
    return Decimal(str(v)).quantize(Decimal(places))


def build_session(s: ChargingSession, *, default_country: str, default_party: str,
                  default_currency: str) -> Session:
    missing = [n for n, v in (("cdr_token", s.cdr_token), ("location_id", s.location_id),
                              ("evse_uid", s.evse_uid), ("connector_uid", s.connector_uid)) if v is None]
    if missing:
        raise NotServable(f"session {s.session_id} has no {', '.join(missing)} yet")
    periods = []
    for p in s.charging_periods:
        dims = [{"type": "ENERGY", "volume": _dec(p.energy_wh / 1000)}]
        hours = _hours_between(p.start_date_time, p.end_date_time)
        dims.append({"type": "PARKING_TIME" if p.state == PeriodState.IDLE else "TIME", "volume": hours})
        if p.max_power_w is not None:
            dims.append({"type": "MAX_POWER", "volume": _dec(p.max_power_w / 1000)})
        if p.min_power_w is not None:
            dims.append({"type": "MIN_POWER", "volume": _dec(p.min_power_w / 1000)})
        if p.max_current_a is not None:
            dims.append({"type": "MAX_CURRENT", "volume": _dec(p.max_current_a)})
        if p.min_current_a is not None:
            dims.append({"type": "MIN_CURRENT", "volume": _dec(p.min_current_a)})
        periods.append({"start_date_time": p.start_date_time, "dimensions": dims,
                        "tariff_id": s.tariff_ids[0] if s.tariff_ids else None})
    t = s.cdr_token
    return Session(
        country_code=s.country_code or default_country, party_id=s.party_id or default_party,
        id=s.session_id, start_date_time=s.start_date_time, end_date_time=s.end_date_time,
        kwh=s.kwh,
        cdr_token={"country_code": t.country_code, "party_id": t.party_id, "uid": t.uid,
                   "type": t.type, "contract_id": t.contract_id},
        auth_method=s.auth_method.value, authorization_reference=s.authorization_reference,
        location_id=s.location_id, evse_uid=s.evse_uid, connector_id=s.connector_uid,
        currency=s.currency or default_currency, charging_periods=periods or None,
        status=s.status.value, last_updated=s.last_updated,
    )


def build_cdr(raw: dict) -> CDR:
    return CDR.model_validate(raw)
