"""Charging sessions (topic sessions) and priced CDRs (topic cdrs).

A session is published whole on every change with a monotonic `version`; consumers keep the
highest version per session_id and drop the rest.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime

from libs.events.envelope import Event, Payload


class SessionStatus(StrEnum):
    """OCPI 2.2.1 SessionStatus."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class AuthMethod(StrEnum):
    """OCPI 2.2.1 AuthMethod."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class PeriodState(StrEnum):
    CHARGING = "charging"
    SUSPENDED = "suspended"  # EV or EVSE suspended: connected, not charging, still session time
    IDLE = "idle"  # connected and done: OCPI PARKING_TIME


class SessionToken(Payload):
    """OCPI 2.2.1 CdrToken."""

    uid: str
    type: str = "RFID"
    contract_id: str
    country_code: str
    party_id: str


class SessionPeriod(Payload):
    """One stretch of a session in one state; the tariff engine prices these."""

    start_date_time: AwareDatetime
    end_date_time: AwareDatetime
    state: PeriodState
    energy_wh: float = 0.0
    max_power_w: float | None = None
    min_power_w: float | None = None
    max_current_a: float | None = None
    min_current_a: float | None = None


class ChargingSession(Payload):
    session_id: str
    version: int
    station_id: str
    evse_id: int | None = None
    connector_id: int | None = None
    transaction_ref: str
    # from the catalog
    country_code: str | None = None
    party_id: str | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    connector_uid: str | None = None  # OCPI connector id
    currency: str | None = None
    tariff_ids: list[str] = []
    # token and authorisation
    cdr_token: SessionToken | None = None
    auth_method: AuthMethod = AuthMethod.WHITELIST
    authorization_reference: str | None = None
    # time and energy
    start_date_time: AwareDatetime
    end_date_time: AwareDatetime | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    kwh: Decimal = Decimal(0)
    charging_periods: list[SessionPeriod] = []
    status: SessionStatus
    last_updated: AwareDatetime
    # finality: billing prices only final sessions; a change after that is `amended`
    final: bool = False
    amended: bool = False
    flags: list[str] = []  # e.g. closed_on_reboot, meter_reset, stop_without_meter_value
    signed_data: list[dict[str, Any]] = []


class SessionUpdated(Event):
    TYPE: ClassVar[str] = "session.updated"
    TOPIC: ClassVar[str] = "sessions"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.session_id", "payload.version")
    KEY: ClassVar[str] = "session_id"
    type: Literal["session.updated"] = "session.updated"
    payload: ChargingSession


class CdrRecord(Payload):
    """A priced CDR: `cdr` is the OCPI 2.2.1 CDR object exactly as partners receive it."""

    cdr_id: str
    session_id: str
    session_version: int
    credit: bool = False
    credit_reference_id: str | None = None
    cdr: dict[str, Any]


class CdrIssued(Event):
    TYPE: ClassVar[str] = "cdr.issued"
    TOPIC: ClassVar[str] = "cdrs"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.cdr_id",)
    KEY: ClassVar[str] = "cdr_id"
    type: Literal["cdr.issued"] = "cdr.issued"
    payload: CdrRecord
