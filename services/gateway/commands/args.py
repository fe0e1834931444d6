"""The version-neutral arguments of each command kind.

One pydantic model per kind, strict (an unknown argument is an error, a typo must not pass
silently). `parse_args(kind, args)` returns the model or raises `BadArgs` with a readable message;
the consumer turns that into a `rejected_by_gateway` result. The table in
docs/remote-management.md documents the same fields.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from libs.events.control import CommandKind

SECRET_KEYS = {"authorizationkey", "basicauthpassword"}  # only rotate_key may set these


class BadArgs(ValueError):
    pass


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Args):
    pass


class RemoteStart(Args):
    id_token: str = Field(min_length=1, max_length=36)
    evse_id: int | None = Field(default=None, ge=1)
    token_type: str | None = None  # OCPI type (RFID, APP_USER, …) or 2.0.1 IdTokenEnumType
    remote_start_id: int | None = Field(default=None, ge=1)  # 2.0.1; default derived from command_id
    charging_profile: ChargingProfile | None = None  # must be purpose tx
    # OCPI START_SESSION: the eMSP's reference, for the session (not sent to the charger)
    authorization_reference: str | None = Field(default=None, max_length=36)
    # OCPI START_SESSION: the token's CdrToken (uid, type, contract_id, country_code, party_id),
    # for the session's cdr_token when the token was never pushed (not sent to the charger)
    cdr_token: dict[str, str] | None = None


class RemoteStop(Args):
    transaction_id: str = Field(min_length=1, max_length=36)  # the charger's transaction id


class Reset(Args):
    hard: bool = False
    evse_id: int | None = Field(default=None, ge=1)  # 2.0.1 only


class Unlock(Args):
    evse_id: int = Field(ge=1)
    connector_id: int = Field(default=1, ge=1)


class Availability(Args):
    operative: bool
    evse_id: int = Field(default=0, ge=0)  # 0 = the whole station
    connector_id: int | None = Field(default=None, ge=1)  # 2.0.1 only


class GetConfiguration(Args):
    keys: list[str] = []  # 1.6 key names; 2.0.1 "Component.Variable" (empty = all, 1.6 only)


class SetConfiguration(Args):
    key: str = Field(min_length=1, max_length=100)  # 1.6 key; 2.0.1 "Component.Variable"
    value: str = Field(max_length=1000)

    @model_validator(mode="after")
    def _no_secrets(self) -> SetConfiguration:
        if self.key.rsplit(".", 1)[-1].lower() in SECRET_KEYS:
            raise ValueError("keys are never carried in a command: use rotate_key")
        return self


class GetBaseReport(Args):
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = "FullInventory"
    request_id: int | None = None


class Trigger(Args):
    # version-neutral names: DiagnosticsStatusNotification and LogStatusNotification are one
    message: str
    evse_id: int | None = Field(default=None, ge=0)
    connector_id: int | None = Field(default=None, ge=1)  # 2.0.1 only


class UpdateFirmware(Args):
    location: str = Field(min_length=1, max_length=512)
    retrieve_at: AwareDatetime | None = None  # default: now
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    request_id: int | None = None  # 2.0.1
    signing_certificate: str | None = None  # 2.0.1 signed firmware
    signature: str | None = None


class Diagnostics(Args):
    location: str = Field(min_length=1, max_length=512)
    log_type: Literal["DiagnosticsLog", "SecurityLog"] = "DiagnosticsLog"
    oldest: AwareDatetime | None = None
    latest: AwareDatetime | None = None
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    request_id: int | None = None


class ReserveNow(Args):
    id_token: str = Field(min_length=1, max_length=36)
    expires: AwareDatetime
    evse_id: int | None = Field(default=None, ge=0)  # 1.6: 0 = any connector; 2.0.1: omitted = any EVSE
    reservation_id: int | None = None  # default derived from command_id
    token_type: str | None = None
    group_id: str | None = None


class CancelReservation(Args):
    reservation_id: int


Purpose = Literal["station_max", "tx_default", "tx", "external"]


class SchedulePeriod(Args):
    start: int = Field(ge=0)  # seconds from the schedule start
    limit: float = Field(ge=0)
    phases: int | None = Field(default=None, ge=1, le=3)


class Schedule(Args):
    rate_unit: Literal["A", "W"]
    periods: list[SchedulePeriod] = Field(min_length=1)
    duration: int | None = Field(default=None, ge=0)
    start: AwareDatetime | None = None
    min_rate: float | None = None


class ChargingProfile(Args):
    id: int
    stack_level: int = Field(default=0, ge=0)
    purpose: Purpose = "tx_default"
    kind: Literal["Absolute", "Recurring", "Relative"] = "Absolute"
    recurrency: Literal["Daily", "Weekly"] | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = None
    schedule: Schedule


class SetProfile(Args):
    evse_id: int = Field(default=0, ge=0)  # 0 = the whole station
    profile: ChargingProfile


class ClearProfile(Args):
    profile_id: int | None = None
    evse_id: int | None = Field(default=None, ge=0)
    purpose: Purpose | None = None
    stack_level: int | None = Field(default=None, ge=0)


class CompositeSchedule(Args):
    evse_id: int = Field(default=0, ge=0)
    duration: int = Field(ge=1)
    rate_unit: Literal["A", "W"] | None = None


class SendLocalList(Args):
    full: bool = False  # True: a Full update even when the station's version matches


class DataTransfer(Args):
    vendor_id: str = Field(min_length=1, max_length=255)
    message_id: str | None = Field(default=None, max_length=50)
    data: Any = None


RemoteStart.model_rebuild()

ARGS: dict[CommandKind, type[Args]] = {
    CommandKind.REMOTE_START: RemoteStart,
    CommandKind.REMOTE_STOP: RemoteStop,
    CommandKind.RESET: Reset,
    CommandKind.UNLOCK_CONNECTOR: Unlock,
    CommandKind.CHANGE_AVAILABILITY: Availability,
    CommandKind.GET_CONFIGURATION: GetConfiguration,
    CommandKind.SET_CONFIGURATION: SetConfiguration,
    CommandKind.GET_BASE_REPORT: GetBaseReport,
    CommandKind.CLEAR_CACHE: NoArgs,
    CommandKind.TRIGGER_MESSAGE: Trigger,
    CommandKind.UPDATE_FIRMWARE: UpdateFirmware,
    CommandKind.GET_DIAGNOSTICS: Diagnostics,
    CommandKind.RESERVE_NOW: ReserveNow,
    CommandKind.CANCEL_RESERVATION: CancelReservation,
    CommandKind.SET_CHARGING_PROFILE: SetProfile,
    CommandKind.CLEAR_CHARGING_PROFILE: ClearProfile,
    CommandKind.GET_COMPOSITE_SCHEDULE: CompositeSchedule,
    CommandKind.SEND_LOCAL_LIST: SendLocalList,
    CommandKind.GET_LOCAL_LIST_VERSION: NoArgs,
    CommandKind.DATA_TRANSFER: DataTransfer,
    CommandKind.ROTATE_KEY: NoArgs,
}


def parse_args(kind: CommandKind, args: dict[str, Any]) -> Args:
    try:
        return ARGS[kind].model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors())
        raise BadArgs(f"bad arguments for {kind.value}: {problems}") from None


def derived_id(command_id: str, what: str) -> int:
    """A stable positive 31-bit id (remoteStartId, reservationId, requestId) from the command id,
    so a re-delivered command carries the same id."""
    digest = hashlib.sha256(f"{what}\x1f{command_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
