"""Requests between services and chargers: commands (commands / command-results) and real-time
token authorisation (auth-requests / auth-responses)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime

from libs.events.envelope import Event, Payload


class CommandKind(StrEnum):
    """Version-neutral commands; the gateway maps each to the station's OCPP version."""

    REMOTE_START = "remote_start"
    REMOTE_STOP = "remote_stop"
    RESET = "reset"
    UNLOCK_CONNECTOR = "unlock_connector"
    CHANGE_AVAILABILITY = "change_availability"
    GET_CONFIGURATION = "get_configuration"
    SET_CONFIGURATION = "set_configuration"
    GET_BASE_REPORT = "get_base_report"
    CLEAR_CACHE = "clear_cache"
    TRIGGER_MESSAGE = "trigger_message"
    UPDATE_FIRMWARE = "update_firmware"
    GET_DIAGNOSTICS = "get_diagnostics"
    RESERVE_NOW = "reserve_now"
    CANCEL_RESERVATION = "cancel_reservation"
    SET_CHARGING_PROFILE = "set_charging_profile"
    CLEAR_CHARGING_PROFILE = "clear_charging_profile"
    GET_COMPOSITE_SCHEDULE = "get_composite_schedule"
    SEND_LOCAL_LIST = "send_local_list"
    GET_LOCAL_LIST_VERSION = "get_local_list_version"
    DATA_TRANSFER = "data_transfer"
    ROTATE_KEY = "rotate_key"  # the gateway generates the key itself; it never travels in an event


class CommandRequest(Payload):
    command_id: str
    kind: CommandKind
    args: dict[str, Any] = {}
    expires_at: AwareDatetime
    # Opaque to the gateway, echoed in the result: who asked and where to answer
    # (e.g. {"requester": "ocpi", "partner": "…", "response_url": "…"}).
    reply_context: dict[str, Any] = {}

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class CommandRequested(Event):
    TYPE: ClassVar[str] = "command.requested"
    TOPIC: ClassVar[str] = "commands"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.command_id",)
    type: Literal["command.requested"] = "command.requested"
    payload: CommandRequest


class CommandOutcome(StrEnum):
    ANSWERED = "answered"  # the charger answered; its answer is in `response`
    CALL_ERROR = "call_error"  # the charger answered with a CALLERROR
    CHARGER_TIMEOUT = "charger_timeout"  # the charger never answered within the gateway's timeout
    REJECTED_BY_GATEWAY = "rejected_by_gateway"  # not applicable to this station / bad arguments
    # Produced by the commands client, never by the gateway:
    STATION_OFFLINE = "station_offline"
    TIMEOUT = "timeout"


class CommandAnswer(Payload):
    command_id: str
    outcome: CommandOutcome
    status: str | None = None  # the charger's status field (Accepted, Rejected, …) when it has one
    response: dict[str, Any] = {}
    error: str | None = None
    reply_context: dict[str, Any] = {}


class CommandResult(Event):
    TYPE: ClassVar[str] = "command.result"
    TOPIC: ClassVar[str] = "command-results"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.command_id",)
    KEY: ClassVar[str] = "command_id"
    type: Literal["command.result"] = "command.result"
    payload: CommandAnswer


class AuthRequest(Payload):
    request_id: str
    id_token: str
    token_type: str | None = None
    token_key: str | None = None  # country/party/uid/type when the index knows the token
    evse_id: int | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    expires_at: AwareDatetime


class AuthRequested(Event):
    TYPE: ClassVar[str] = "auth.requested"
    TOPIC: ClassVar[str] = "auth-requests"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.request_id",)
    KEY: ClassVar[str] = "request_id"
    type: Literal["auth.requested"] = "auth.requested"
    payload: AuthRequest


class AuthAnswer(Payload):
    request_id: str
    allowed: str  # OCPI AllowedType: ALLOWED, BLOCKED, EXPIRED, NO_CREDIT, NOT_ALLOWED
    authorization_reference: str | None = None
    token: dict[str, Any] | None = None  # the eMSP's OCPI Token, when returned
    error: str | None = None  # e.g. emsp_unreachable


class AuthResponded(Event):
    TYPE: ClassVar[str] = "auth.responded"
    TOPIC: ClassVar[str] = "auth-responses"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.request_id",)
    KEY: ClassVar[str] = "request_id"
    type: Literal["auth.responded"] = "auth.responded"
    payload: AuthAnswer
