"""Command kinds -> OCPP 2.0.1 CALLs (action, camelCase payload), per the OCA 2.0.1 schemas.

Configuration keys are "Component.Variable" (optionally "Component.Variable.Instance");
request ids the standard wants (remoteStartId, reservation id, requestId) default to a stable
hash of the command id (`args.derived_id`), so a re-delivered command carries the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from libs.events.control import CommandKind as K
from services.gateway.commands import args as a
from services.gateway.commands.target import Target

Call = tuple[str, dict[str, Any]]
PURPOSE = {"station_max": "ChargingStationMaxProfile", "tx_default": "TxDefaultProfile", "tx": "TxProfile",
           "external": "ChargingStationExternalConstraints"}
TRIGGERS = {"BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
            "SignChargingStationCertificate", "SignV2GCertificate", "StatusNotification", "TransactionEvent",
            "SignCombinedCertificate", "PublishFirmwareStatusNotification"}
TRIGGER_ALIASES = {"DiagnosticsStatusNotification": "LogStatusNotification"}
ID_TOKEN_TYPES = {"Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"}
# OCPI 2.2.1 TokenType -> 2.0.1 IdTokenEnumType
FROM_OCPI_TYPE = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central", "OTHER": "Central"}


def _compact(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def id_token(uid: str, token_type: str | None, t: Target) -> dict[str, str]:
    """IdTokenType for a uid: the given type (OCPI or 2.0.1 name), else the indexed token's, else Central."""
    if token_type is None:
        token = t.index.token(uid)
        token_type = token.type if token is not None else "Central"
    kind = token_type if token_type in ID_TOKEN_TYPES else FROM_OCPI_TYPE.get(token_type)
    if kind is None:
        raise a.BadArgs(f"unknown token type {token_type!r}")
    return {"idToken": uid, "type": kind}


def key_of(key: str) -> dict[str, Any]:
    """'Component.Variable[.Instance]' -> the component / variable pair of 2.0.1."""
    parts = key.split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise a.BadArgs(f"2.0.1 configuration keys are 'Component.Variable[.Instance]', not {key!r}")
    variable = {"name": parts[1]} if len(parts) == 2 else {"name": parts[1], "instance": parts[2]}
    return {"component": {"name": parts[0]}, "variable": variable}


def evse(evse_id: int | None, connector_id: int | None = None) -> dict[str, int] | None:
    if not evse_id:
        if connector_id is not None:
            raise a.BadArgs("connector_id needs an evse_id")
        return None
    return _compact({"id": evse_id, "connectorId": connector_id})


def charging_profile(p: a.ChargingProfile) -> dict[str, Any]:
    s = p.schedule
    return _compact({
        "id": p.id, "stackLevel": p.stack_level, "chargingProfilePurpose": PURPOSE[p.purpose],
        "chargingProfileKind": p.kind, "recurrencyKind": p.recurrency,
        "validFrom": a.iso(p.valid_from) if p.valid_from else None,
        "validTo": a.iso(p.valid_to) if p.valid_to else None, "transactionId": p.transaction_id,
        "chargingSchedule": [_compact({
            "id": p.id, "startSchedule": a.iso(s.start) if s.start else None, "duration": s.duration,
            "chargingRateUnit": s.rate_unit, "minChargingRate": s.min_rate,
            "chargingSchedulePeriod": [_compact({"startPeriod": x.start, "limit": x.limit, "numberPhases": x.phases})
                                       for x in s.periods],
        })],
    })


def remote_start(x: a.RemoteStart, t: Target) -> Call:
    if x.charging_profile is not None and x.charging_profile.purpose != "tx":
        raise a.BadArgs("a remote start charging profile has purpose tx")
    return "RequestStartTransaction", _compact({
        "idToken": id_token(x.id_token, x.token_type, t), "evseId": x.evse_id,
        "remoteStartId": x.remote_start_id or a.derived_id(t.command_id, "remote_start"),
        "chargingProfile": charging_profile(x.charging_profile) if x.charging_profile else None})


def remote_stop(x: a.RemoteStop, t: Target) -> Call:
    return "RequestStopTransaction", {"transactionId": x.transaction_id}


def reset(x: a.Reset, t: Target) -> Call:
    return "Reset", _compact({"type": "Immediate" if x.hard else "OnIdle", "evseId": x.evse_id})


def unlock(x: a.Unlock, t: Target) -> Call:
    return "UnlockConnector", {"evseId": x.evse_id, "connectorId": x.connector_id}


def availability(x: a.Availability, t: Target) -> Call:
    return "ChangeAvailability", _compact({"operationalStatus": "Operative" if x.operative else "Inoperative",
                                           "evse": evse(x.evse_id, x.connector_id)})


def get_configuration(x: a.GetConfiguration, t: Target) -> Call:
    if not x.keys:
        raise a.BadArgs("2.0.1 reads named variables ('Component.Variable'); use get_base_report for all")
    return "GetVariables", {"getVariableData": [key_of(k) for k in x.keys]}


def set_configuration(x: a.SetConfiguration, t: Target) -> Call:
    return "SetVariables", {"setVariableData": [{"attributeValue": x.value, **key_of(x.key)}]}


def base_report(x: a.GetBaseReport, t: Target) -> Call:
    return "GetBaseReport", {"requestId": x.request_id if x.request_id is not None
                             else a.derived_id(t.command_id, "request"), "reportBase": x.report_base}


def no_args(action: str) -> Callable[[a.NoArgs, Target], Call]:
    return lambda x, t: (action, {})


def trigger(x: a.Trigger, t: Target) -> Call:
    message = TRIGGER_ALIASES.get(x.message, x.message)
    if message not in TRIGGERS:
        raise a.BadArgs(f"OCPP 2.0.1 cannot trigger {x.message!r} (one of {', '.join(sorted(TRIGGERS))})")
    return "TriggerMessage", _compact({"requestedMessage": message, "evse": evse(x.evse_id, x.connector_id)})


def firmware(x: a.UpdateFirmware, t: Target) -> Call:
    return "UpdateFirmware", _compact({
        "requestId": x.request_id if x.request_id is not None else a.derived_id(t.command_id, "request"),
        "retries": x.retries, "retryInterval": x.retry_interval,
        "firmware": _compact({"location": x.location, "retrieveDateTime": a.iso(x.retrieve_at or datetime.now(UTC)),
                              "signingCertificate": x.signing_certificate, "signature": x.signature})})


def diagnostics(x: a.Diagnostics, t: Target) -> Call:
    return "GetLog", _compact({
        "logType": x.log_type,
        "requestId": x.request_id if x.request_id is not None else a.derived_id(t.command_id, "request"),
        "retries": x.retries, "retryInterval": x.retry_interval,
        "log": _compact({"remoteLocation": x.location, "oldestTimestamp": a.iso(x.oldest) if x.oldest else None,
                         "latestTimestamp": a.iso(x.latest) if x.latest else None})})


def reserve(x: a.ReserveNow, t: Target) -> Call:
    return "ReserveNow", _compact({
        "id": x.reservation_id if x.reservation_id is not None else a.derived_id(t.command_id, "reservation"),
        "expiryDateTime": a.iso(x.expires), "idToken": id_token(x.id_token, x.token_type, t),
        "evseId": x.evse_id or None,
        "groupIdToken": {"idToken": x.group_id, "type": "Central"} if x.group_id else None})


def cancel_reservation(x: a.CancelReservation, t: Target) -> Call:
    return "CancelReservation", {"reservationId": x.reservation_id}


def set_profile(x: a.SetProfile, t: Target) -> Call:
    return "SetChargingProfile", {"evseId": x.evse_id, "chargingProfile": charging_profile(x.profile)}


def clear_profile(x: a.ClearProfile, t: Target) -> Call:
    criteria = _compact({"evseId": x.evse_id, "chargingProfilePurpose": PURPOSE[x.purpose] if x.purpose else None,
                         "stackLevel": x.stack_level})
    return "ClearChargingProfile", _compact({"chargingProfileId": x.profile_id,
                                             "chargingProfileCriteria": criteria or None})


def composite(x: a.CompositeSchedule, t: Target) -> Call:
    return "GetCompositeSchedule", _compact({"evseId": x.evse_id, "duration": x.duration,
                                             "chargingRateUnit": x.rate_unit})


def data_transfer(x: a.DataTransfer, t: Target) -> Call:
    return "DataTransfer", _compact({"vendorId": x.vendor_id, "messageId": x.message_id, "data": x.data})


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
