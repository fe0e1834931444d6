"""A small, fully known data set for the analytics tests and docs/analytics.md's figures.

Day 2026-11-25 (UTC). CS1 (ACME X1, EVSEs 1 and 2, location LOC1), CS2 (Volta Y2, EVSE 1, LOC2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from libs.events.envelope import Event, Source
from libs.events.sessions import CdrIssued, SessionUpdated
from libs.events.station import StationBooted, StationConnected, StationDisconnected, StationStatusChanged
from libs.events.transactions import MeterSampled, OcppFrameLogged

DAY = datetime(2026, 11, 25, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


def _ev(cls: type[Event], station: str | None, when: datetime, payload: dict, **kw) -> Event:
    return cls.create(payload=payload, source=kw.pop("source", Source.OCPP16), station_id=station,
                      occurred_at=when, received_at=when + timedelta(seconds=1), **kw)


def meter(station: str, evse: int, when: datetime, value: float, measurand: str = "Energy.Active.Import.Register",
          unit: str = "Wh", tx: str = "tx") -> Event:
    return _ev(MeterSampled, station, when, {"evse_id": evse, "connector_id": 1, "transaction_ref": tx,
                                             "measurand": measurand, "value": value, "unit": unit,
                                             "context": "Sample.Periodic"})


def meter_events() -> list[Event]:
    out = []
    for k in range(9):  # CS1/1: 08:00..10:00 every 15 min, 10000 + 2500 k Wh -> 20 kWh
        out.append(meter("CS1", 1, at(8, 15 * k), 10000 + 2500 * k, tx="t1"))
        out.append(meter("CS1", 1, at(8, 15 * k), 11000 if k == 4 else 10000, "Power.Active.Import", "W", tx="t1"))
    for k in range(3):  # CS1/2: 12:00..13:00 every 30 min, 5000, 8000, 11000 -> 6 kWh
        out.append(meter("CS1", 2, at(12, 30 * k), 5000 + 3000 * k, tx="t2"))
        out.append(meter("CS1", 2, at(12, 30 * k), 7000, "Power.Active.Import", "W", tx="t2"))
    for k in range(3):  # CS2/1: 09:00..09:30 every 15 min, 0, 1000, 2000 -> 2 kWh
        out.append(meter("CS2", 1, at(9, 15 * k), 1000 * k, tx="t3"))
        out.append(meter("CS2", 1, at(9, 15 * k), 4000, "Power.Active.Import", "W", tx="t3"))
    return out


def session(sid: str, version: int, station: str, evse: int, location: str, start: datetime,
            updated: datetime, kwh: str, status: str, end: datetime | None = None) -> Event:
    payload = {
        "session_id": sid, "version": version, "station_id": station, "evse_id": evse, "connector_id": 1,
        "transaction_ref": sid, "country_code": "DE", "party_id": "VST", "location_id": location,
        "evse_uid": f"{station}-{evse}", "currency": "EUR", "start_date_time": start, "end_date_time": end,
        "kwh": Decimal(kwh), "status": status, "last_updated": updated, "final": status != "ACTIVE",
        "cdr_token": {"uid": "04A1", "contract_id": "DE-VST-C1", "country_code": "DE", "party_id": "VST"},
        "charging_periods": [{"start_date_time": start, "end_date_time": end or updated, "state": "charging",
                              "energy_wh": float(Decimal(kwh) * 1000)}],
    }
    return SessionUpdated.create(payload=payload, source=Source.SESSIONS, occurred_at=updated,
                                 received_at=updated + timedelta(seconds=1))


def session_events() -> list[Event]:
    return [
        session("S1", 1, "CS1", 1, "LOC1", at(8), at(8, 30), "5", "ACTIVE"),
        session("S1", 2, "CS1", 1, "LOC1", at(8), at(9, 15), "12", "ACTIVE"),
        session("S1", 3, "CS1", 1, "LOC1", at(8), at(10), "20", "COMPLETED", end=at(10)),
        session("S2", 1, "CS1", 2, "LOC1", at(12), at(12, 30), "3", "ACTIVE"),
        session("S2", 2, "CS1", 2, "LOC1", at(12), at(13), "6", "COMPLETED", end=at(13)),
        session("S3", 1, "CS2", 1, "LOC2", at(9), at(9, 30), "2", "COMPLETED", end=at(9, 30)),
        session("S4", 1, "CS2", 1, "LOC2", at(11), at(11, 2), "0", "INVALID", end=at(11, 2)),
        session("S5", 1, "CS2", 1, "LOC2", at(23), at(1, day=1), "4", "COMPLETED", end=at(1, day=1)),
    ]


def cdr(cdr_id: str, sid: str, station: str, location: str, start: datetime, end: datetime, kwh: str,
        tariff: str, excl: str, credit: bool = False) -> Event:
    body = {
        "country_code": "DE", "party_id": "VST", "id": cdr_id, "start_date_time": start.isoformat(),
        "end_date_time": end.isoformat(), "session_id": sid, "currency": "EUR", "auth_method": "WHITELIST",
        "cdr_token": {"uid": "04A1", "type": "RFID", "contract_id": "DE-VST-C1", "country_code": "DE", "party_id": "VST"},
        "cdr_location": {"id": location, "evse_uid": f"{station}-1"},
        "tariffs": [{"id": tariff}], "total_cost": {"excl_vat": float(excl), "incl_vat": round(float(excl) * 1.19, 2)},
        "total_energy": float(kwh), "total_time": 1.0, "last_updated": end.isoformat(), "credit": credit,
    }
    payload = {"cdr_id": cdr_id, "session_id": sid, "session_version": 1, "credit": credit,
               "credit_reference_id": "C2" if credit else None, "cdr": body}
    return CdrIssued.create(payload=payload, source=Source.BILLING, station_id=station, occurred_at=end,
                            received_at=end + timedelta(seconds=5))


def cdr_events() -> list[Event]:
    return [
        cdr("C1", "S1", "CS1", "LOC1", at(8), at(10), "20", "T1", "7.80"),
        cdr("C2", "S2", "CS1", "LOC1", at(12), at(13), "6", "T1", "2.34"),
        cdr("C2-CR", "S2", "CS1", "LOC1", at(12), at(13), "-6", "T1", "-2.34", credit=True),
        cdr("C3", "S3", "CS2", "LOC2", at(9), at(9, 30), "2", "T2", "1.18"),
        cdr("C5", "S5", "CS2", "LOC2", at(23), at(1, day=1), "4", "T2", "2.36"),
    ]


def status(station: str, evse: int, when: datetime, value: str, detail: str | None = None) -> Event:
    return _ev(StationStatusChanged, station, when,
               {"evse_id": evse, "connector_id": 1, "status": value, "detail": detail})


def station_events() -> list[Event]:
    conn = {"gateway_instance": "gw-1", "protocol": "ocpp1.6"}
    return [
        _ev(StationBooted, "CS1", at(6), {"vendor": "ACME", "model": "X1", "registration_status": "Accepted",
                                          "heartbeat_interval": 300}, frame_identity=("c0", 1)),
        _ev(StationBooted, "CS2", at(6), {"vendor": "Volta", "model": "Y2", "registration_status": "Accepted",
                                          "heartbeat_interval": 300}, frame_identity=("c1", 1)),
        status("CS1", 1, at(7), "Available"),
        status("CS1", 1, at(8), "Occupied", "Charging"),
        status("CS1", 1, at(10), "Available"),
        status("CS1", 1, at(14), "Faulted"),
        status("CS1", 1, at(14, 30), "Available"),
        _ev(StationDisconnected, "CS2", at(15), {**conn, "connection_id": "c1", "reason": "ping_timeout"}),
        _ev(StationConnected, "CS2", at(15, 20), {**conn, "connection_id": "c2"}),
        _ev(StationDisconnected, "CS1", at(16), {**conn, "connection_id": "c0", "reason": "closed"}),
        _ev(StationConnected, "CS1", at(16, 5), {**conn, "connection_id": "c3"}),
    ]


def frame(station: str, conn: str, seq: int, when: datetime, raw: str, message_type: int, direction: str = "in",
          action: str | None = None) -> Event:
    return _ev(OcppFrameLogged, station, when, {"connection_id": conn, "seq": seq, "direction": direction,
                                                "protocol": "ocpp1.6", "message_type": message_type,
                                                "action": action, "raw": raw})


def frame_events() -> list[Event]:
    return [
        frame("CS1", "c0", 1, at(6), '[2,"1","BootNotification",{}]', 2, action="BootNotification"),
        frame("CS1", "c0", 2, at(6), '[3,"1",{"status":"Accepted"}]', 3, "out"),
        frame("CS1", "c0", 3, at(7), '[4,"9","NotImplemented","",{}]', 4),
        frame("CS1", "c0", 4, at(7, 5), '[4,"10","FormationViolation","",{}]', 4),
        frame("CS2", "c1", 1, at(6), '[4,"5","InternalError","",{}]', 4),
        frame("CS2", "c1", 2, at(6, 1), '[2,"6","Heartbeat",{}]', 2, action="Heartbeat"),
    ]


def all_events() -> list[Event]:
    return meter_events() + session_events() + cdr_events() + station_events() + frame_events()
