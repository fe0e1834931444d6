"""Normalised transaction facts (topic transaction-events) and meter samples (meter-values).

OCPP 1.6 and 2.0.1 map to the same events: a 1.6 StartTransaction is `transaction.started`, a
1.6 MeterValues with a transactionId is `transaction.updated` plus its `meter.sampled` events,
exactly as a 2.0.1 TransactionEvent Updated is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime

from libs.events.envelope import Event, Payload

TRANSACTION_EVENTS = "transaction-events"


class ChargingState(StrEnum):
    """2.0.1 ChargingStateEnumType; 1.6 connector statuses map onto it."""

    CHARGING = "Charging"
    EV_CONNECTED = "EVConnected"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    IDLE = "Idle"


class IdToken(Payload):
    id_token: str
    type: str | None = None  # 2.0.1 IdTokenEnumType; None when a 1.6 charger sent an idTag


class TransactionFact(Payload):
    """Fields common to started / updated / ended."""

    transaction_ref: str  # 1.6: gateway-assigned transactionId as text; 2.0.1: station's transactionId
    session_id: str | None = None  # set when derivable at the gateway (DESIGN.md "Identity")
    evse_id: int | None = None
    connector_id: int | None = None
    seq_no: int | None = None  # 2.0.1 seqNo; None for 1.6
    offline: bool = False
    trigger_reason: str | None = None
    id_token: IdToken | None = None
    charging_state: ChargingState | None = None


class Started(TransactionFact):
    meter_start_wh: float | None = None
    reservation_id: int | None = None
    remote_start_id: int | None = None


class Updated(TransactionFact):
    pass


class Ended(TransactionFact):
    meter_stop_wh: float | None = None
    stopped_reason: str | None = None
    # 1.6 StopTransaction transactionData is emitted as meter.sampled events; kept here as a count
    # so a consumer can tell "no samples" from "samples not yet arrived".
    sample_count: int = 0


_TX_IDENTITY = ("station_id", "payload.transaction_ref", "payload.seq_no", "occurred_at")


class TransactionStarted(Event):
    TYPE: ClassVar[str] = "transaction.started"
    TOPIC: ClassVar[str] = TRANSACTION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = _TX_IDENTITY
    type: Literal["transaction.started"] = "transaction.started"
    payload: Started


class TransactionUpdated(Event):
    TYPE: ClassVar[str] = "transaction.updated"
    TOPIC: ClassVar[str] = TRANSACTION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = _TX_IDENTITY
    type: Literal["transaction.updated"] = "transaction.updated"
    payload: Updated


class TransactionEnded(Event):
    TYPE: ClassVar[str] = "transaction.ended"
    TOPIC: ClassVar[str] = TRANSACTION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = _TX_IDENTITY
    type: Literal["transaction.ended"] = "transaction.ended"
    payload: Ended


# Charger units → (base unit, factor). Everything downstream sees base units only.
BASE_UNITS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1000.0),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1000.0),
    "W": ("W", 1.0),
    "kW": ("W", 1000.0),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1000.0),
    "var": ("var", 1.0),
    "kvar": ("var", 1000.0),
    "A": ("A", 1.0),
    "V": ("V", 1.0),
    "Celsius": ("Celsius", 1.0),
    "Celcius": ("Celsius", 1.0),  # 1.6 schema spelling
    "Fahrenheit": ("Fahrenheit", 1.0),
    "K": ("K", 1.0),
    "Percent": ("Percent", 1.0),
    "Hz": ("Hz", 1.0),
}


def to_base_unit(value: float, unit: str | None, measurand: str) -> tuple[float, str]:
    """Convert a sampled value to its base unit. OCPP's default unit is Wh for energy measurands."""
    if unit is None:
        unit = _DEFAULT_UNITS.get(measurand.split(".")[0], "Wh")
    base, factor = BASE_UNITS.get(unit, (unit, 1.0))
    return value * factor, base


_DEFAULT_UNITS = {
    "Energy": "Wh", "Power": "W", "Current": "A", "Voltage": "V", "Frequency": "Hz",
    "Temperature": "Celsius", "SoC": "Percent", "RPM": "RPM",
}


class MeterSample(Payload):
    """One sampled value: one measurand / phase / location at one moment."""

    evse_id: int | None = None
    connector_id: int | None = None
    transaction_ref: str | None = None
    session_id: str | None = None
    measurand: str = "Energy.Active.Import.Register"
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    value: float
    unit: str  # base unit: Wh, W, A, V, varh, var, VA, Percent, Celsius, Hz, …
    # Signed meter data exactly as the charger sent it (1.6 format=SignedData raw value, 2.0.1
    # signedMeterValue object), for eichrecht/disputes.
    signed_data: dict[str, Any] | str | None = None
    seq_no: int | None = None


class MeterSampled(Event):
    TYPE: ClassVar[str] = "meter.sampled"
    TOPIC: ClassVar[str] = "meter-values"
    IDENTITY: ClassVar[tuple[str, ...]] = (
        "station_id", "payload.evse_id", "payload.connector_id", "payload.transaction_ref", "occurred_at",
        "payload.measurand", "payload.phase", "payload.location", "payload.context",
    )
    type: Literal["meter.sampled"] = "meter.sampled"
    payload: MeterSample


class OcppFrame(Payload):
    """A raw frame in either direction, secrets redacted before it is built."""

    connection_id: str
    seq: int
    direction: Literal["in", "out"]
    protocol: str
    message_type: int | None = None
    message_id: str | None = None
    action: str | None = None
    raw: str


class OcppFrameLogged(Event):
    TYPE: ClassVar[str] = "ocpp.frame"
    TOPIC: ClassVar[str] = "ocpp-frames"
    IDENTITY: ClassVar[tuple[str, ...]] = (
        "station_id", "payload.connection_id", "payload.seq", "payload.direction",
    )
    type: Literal["ocpp.frame"] = "ocpp.frame"
    payload: OcppFrame


__all__ = [
    "AwareDatetime", "ChargingState", "IdToken", "MeterSample", "MeterSampled", "OcppFrame",
    "OcppFrameLogged", "TransactionEnded", "TransactionStarted", "TransactionUpdated", "to_base_unit",
]
