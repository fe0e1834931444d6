"""Decoded events -> facts: small JSON-able dicts the pure state machine absorbs.

Times are epoch milliseconds (UTC). A fact is either about one transaction (`SessionFact`, routed
by station + transaction_ref) or about a station (`StationFact`: a boot, a remote start command, an
authorisation decision) that may relate to several of its sessions. Anything else is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.events.control import CommandKind, CommandRequested
from libs.events.envelope import Event, Source
from libs.events.station import StationBooted, TokenAuthorized
from libs.events.transactions import (
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
METER_LOCATIONS = (None, "Outlet")  # the EVSE's meter; Inlet / EV readings are not the session's


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def session_key(station_id: str, transaction_ref: str) -> str:
    return f"{station_id}/{transaction_ref}"


@dataclass(frozen=True)
class SessionFact:
    key: str
    station_id: str
    transaction_ref: str
    kind: str  # started | updated | ended | energy | power | current
    t: int
    rx: int
    proto: str | None  # "1.6" / "2.0.1" / None when the source does not say
    data: dict[str, Any]


@dataclass(frozen=True)
class StationFact:
    station_id: str
    kind: str  # boot | remote_start | auth
    t: int
    data: dict[str, Any]


def _proto(source: Source) -> str | None:
    return {Source.OCPP16: "1.6", Source.OCPP201: "2.0.1"}.get(source)


def _token(tok: Any) -> list[str | None] | None:
    return [tok.id_token, tok.type] if tok is not None else None


def to_fact(event: Event) -> SessionFact | StationFact | None:
    """The fact an event carries for sessions, or None when sessions do not care."""
    station = event.station_id
    if station is None:
        return None
    t, rx = ms(event.occurred_at), ms(event.received_at)
    if isinstance(event, TransactionStarted | TransactionUpdated | TransactionEnded):
        p = event.payload
        data: dict[str, Any] = {
            "sid": p.session_id, "evse": p.evse_id, "conn": p.connector_id, "tok": _token(p.id_token),
            "cs": p.charging_state.value if p.charging_state else None, "offline": p.offline,
        }
        if isinstance(event, TransactionStarted):
            kind = "started"
            data.update(m=p.meter_start_wh, rsid=p.remote_start_id, resv=p.reservation_id)
        elif isinstance(event, TransactionEnded):
            kind = "ended"
            data.update(m=p.meter_stop_wh, reason=p.stopped_reason)
        else:
            kind = "updated"
        return SessionFact(session_key(station, p.transaction_ref), station, p.transaction_ref, kind, t, rx,
                           _proto(event.source), data)
    if isinstance(event, MeterSampled):
        p = event.payload
        if p.transaction_ref is None or p.location not in METER_LOCATIONS:
            return None
        base = {"sid": p.session_id, "evse": p.evse_id, "conn": p.connector_id}
        if p.measurand == ENERGY and p.phase in (None, "N"):
            kind, data = "energy", {**base, "wh": p.value, "signed": p.signed_data}
        elif p.measurand == POWER:
            kind, data = "power", {**base, "w": p.value, "phase": p.phase or ""}
        elif p.measurand == CURRENT:
            kind, data = "current", {**base, "a": p.value, "phase": p.phase or ""}
        else:
            return None
        return SessionFact(session_key(station, p.transaction_ref), station, p.transaction_ref, kind, t, rx,
                           _proto(event.source), data)
    if isinstance(event, StationBooted):
        return StationFact(station, "boot", t, {})
    if isinstance(event, CommandRequested) and event.payload.kind == CommandKind.REMOTE_START:
        args = event.payload.args
        token = args.get("id_token")
        if isinstance(token, dict):  # an OCPI Token object or an IdToken-like mapping
            token = token.get("uid") or token.get("id_token")
        return StationFact(station, "remote_start", t, {
            "id": event.payload.command_id, "tok": token, "evse": args.get("evse_id"),
            "rsid": args.get("remote_start_id"), "ref": args.get("authorization_reference"),
            "cdr": args.get("cdr_token"),
        })
    if isinstance(event, TokenAuthorized):
        p = event.payload
        return StationFact(station, "auth", t, {
            "tok": p.id_token, "evse": p.evse_id, "by": p.decided_by, "status": p.status,
            "ref": p.authorization_reference,
        })
    return None
