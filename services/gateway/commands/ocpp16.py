"""Command kinds -> OCPP 1.6J CALLs (action, camelCase payload), per the OCA 1.6 schemas.

Every builder takes the parsed arguments and the `Target` (station, command id, catalog index)
and returns (action, payload). `BadArgs` says a kind or argument has no 1.6 equivalent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from libs.catalog.index import short_alias
from libs.events.control import CommandKind as K
from services.gateway.commands import args as a
from services.gateway.commands.target import Target

Call = tuple[str, dict[str, Any]]
PURPOSE = {"station_max": "ChargePointMaxProfile", "tx_default": "TxDefaultProfile", "tx": "TxProfile"}
TRIGGERS = {"BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
            "MeterValues", "StatusNotification"}
TRIGGER_ALIASES = {"LogStatusNotification": "DiagnosticsStatusNotification"}


def _compact(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def _purpose(purpose: str) -> str:
    if purpose not in PURPOSE:
        raise a.BadArgs(f"charging profile purpose {purpose!r} does not exist in OCPP 1.6")
    return PURPOSE[purpose]


def charging_profile(p: a.ChargingProfile) -> dict[str, Any]:
    s = p.schedule
    tx = None
    if p.transaction_id is not None:
        if not p.transaction_id.isdigit():
            raise a.BadArgs("a 1.6 transaction id is an integer")
        tx = int(p.transaction_id)
    return _compact({
        "chargingProfileId": p.id, "transactionId": tx, "stackLevel": p.stack_level,
        "chargingProfilePurpose": _purpose(p.purpose), "chargingProfileKind": p.kind,
        "recurrencyKind": p.recurrency,
        "validFrom": a.iso(p.valid_from) if p.valid_from else None,
        "validTo": a.iso(p.valid_to) if p.valid_to else None,
        "chargingSchedule": _compact({
            "duration": s.duration, "startSchedule": a.iso(s.start) if s.start else None,
            "chargingRateUnit": s.rate_unit, "minChargingRate": s.min_rate,
            "chargingSchedulePeriod": [_compact({"startPeriod": x.start, "limit": x.limit, "numberPhases": x.phases})
                                       for x in s.periods],
        }),
    })


def remote_start(x: a.RemoteStart, t: Target) -> Call:
    if x.charging_profile is not None and x.charging_profile.purpose != "tx":
        raise a.BadArgs("a remote start charging profile has purpose tx")
    return "RemoteStartTransaction", _compact({
        "idTag": short_alias(x.id_token), "connectorId": x.evse_id,
        "chargingProfile": charging_profile(x.charging_profile) if x.charging_profile else None})


def remote_stop(x: a.RemoteStop, t: Target) -> Call:
    if not x.transaction_id.isdigit():
        raise a.BadArgs(f"a 1.6 transaction id is an integer, not {x.transaction_id!r}")
    return "RemoteStopTransaction", {"transactionId": int(x.transaction_id)}


def reset(x: a.Reset, t: Target) -> Call:
    if x.evse_id is not None:
        raise a.BadArgs("OCPP 1.6 resets the whole station (no evse_id)")
    return "Reset", {"type": "Hard" if x.hard else "Soft"}


def unlock(x: a.Unlock, t: Target) -> Call:
    return "UnlockConnector", {"connectorId": x.evse_id}


def availability(x: a.Availability, t: Target) -> Call:
    return "ChangeAvailability", {"connectorId": x.evse_id, "type": "Operative" if x.operative else "Inoperative"}


def get_configuration(x: a.GetConfiguration, t: Target) -> Call:
    return "GetConfiguration", {"key": list(x.keys)} if x.keys else {}


def set_configuration(x: a.SetConfiguration, t: Target) -> Call:
    return "ChangeConfiguration", {"key": x.key, "value": x.value}


def base_report(x: a.GetBaseReport, t: Target) -> Call:
    return "GetConfiguration", {}  # 1.6 has no device model report: every key is the inventory


def no_args(action: str) -> Callable[[a.NoArgs, Target], Call]:
    return lambda x, t: (action, {})


def trigger(x: a.Trigger, t: Target) -> Call:
    message = TRIGGER_ALIASES.get(x.message, x.message)
    if message not in TRIGGERS:
        raise a.BadArgs(f"OCPP 1.6 cannot trigger {x.message!r} (one of {', '.join(sorted(TRIGGERS))})")
    return "TriggerMessage", _compact({"requestedMessage": message, "connectorId": x.evse_id})


def firmware(x: a.UpdateFirmware, t: Target) -> Call:
    if x.signature or x.signing_certificate:
        raise a.BadArgs("signed firmware needs OCPP 2.0.1 (or the 1.6 security extension, not supported)")
    return "UpdateFirmware", _compact({
        "location": x.location, "retrieveDate": a.iso(x.retrieve_at or datetime.now(UTC)),
        "retries": x.retries, "retryInterval": x.retry_interval})


def diagnostics(x: a.Diagnostics, t: Target) -> Call:
    if x.log_type != "DiagnosticsLog":
        raise a.BadArgs("OCPP 1.6 uploads diagnostics only (SecurityLog needs 2.0.1)")
    return "GetDiagnostics", _compact({
        "location": x.location, "retries": x.retries, "retryInterval": x.retry_interval,
        "startTime": a.iso(x.oldest) if x.oldest else None, "stopTime": a.iso(x.latest) if x.latest else None})


def reserve(x: a.ReserveNow, t: Target) -> Call:
    return "ReserveNow", _compact({
        "connectorId": x.evse_id or 0, "expiryDate": a.iso(x.expires), "idTag": short_alias(x.id_token),
        "parentIdTag": x.group_id[:20] if x.group_id else None,
        "reservationId": x.reservation_id if x.reservation_id is not None else a.derived_id(t.command_id, "reservation")})


def cancel_reservation(x: a.CancelReservation, t: Target) -> Call:
    return "CancelReservation", {"reservationId": x.reservation_id}


def set_profile(x: a.SetProfile, t: Target) -> Call:
    return "SetChargingProfile", {"connectorId": x.evse_id, "csChargingProfiles": charging_profile(x.profile)}


def clear_profile(x: a.ClearProfile, t: Target) -> Call:
    return "ClearChargingProfile", _compact({
        "id": x.profile_id, "connectorId": x.evse_id,
        "chargingProfilePurpose": _purpose(x.purpose) if x.purpose else None, "stackLevel": x.stack_level})


def composite(x: a.CompositeSchedule, t: Target) -> Call:
    return "GetCompositeSchedule", _compact({"connectorId": x.evse_id, "duration": x.duration,
                                             "chargingRateUnit": x.rate_unit})


def data_transfer(x: a.DataTransfer, t: Target) -> Call:
    data = x.data if x.data is None or isinstance(x.data, str) else json.dumps(x.data, separators=(",", ":"))
    return "DataTransfer", _compact({"vendorId": x.vendor_id, "messageId": x.message_id, "data": data})


BUILDERS: dict[K, Callable[[Any, Target], Call]] = {
    K.REMOTE_START: remote_start,
    K.REMOTE_STOP: remote_stop,
    K.RESET: reset,
    K.UNLOCK_CONNECTOR: unlock,
    K.CHANGE_AVAILABILITY: availability,
    K.GET_CONFIGURATION: get_configuration,
    K.SET_CONFIGURATION: set_configuration,
    K.GET_BASE_REPORT: base_report,
    K.CLEAR_CACHE: no_args("ClearCache"),
    K.TRIGGER_MESSAGE: trigger,
    K.UPDATE_FIRMWARE: firmware,
    K.GET_DIAGNOSTICS: diagnostics,
    K.RESERVE_NOW: reserve,
    K.CANCEL_RESERVATION: cancel_reservation,
    K.SET_CHARGING_PROFILE: set_profile,
    K.CLEAR_CHARGING_PROFILE: clear_profile,
    K.GET_COMPOSITE_SCHEDULE: composite,
    K.GET_LOCAL_LIST_VERSION: no_args("GetLocalListVersion"),
    K.DATA_TRANSFER: data_transfer,
}
