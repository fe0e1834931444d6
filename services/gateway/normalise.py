"""Version-neutral normalisation helpers: charger timestamps, connector status, meter values.

Both OCPP versions end up in the same shapes (docs/events.md): a 1.6 connectorId N is EVSE N,
connector 1; statuses use the 2.0.1 set with the 1.6 detail kept; sampled values are one sample
per measurand / phase / location in base units, with the OCPP defaults filled in (1.6 §7.45 and
2.0.1 SampledValueType: context Sample.Periodic, measurand Energy.Active.Import.Register,
location Outlet), so the same physical sample gives the same event from either version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.events.station import ConnectorStatus
from libs.events.transactions import MeterSample, to_base_unit
from services.gateway.errors import Fault, OcppFault

DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_LOCATION = "Outlet"

# OCPP 1.6 ChargePointStatus -> (2.0.1 ConnectorStatusEnumType, detail kept)
V16_STATUS: dict[str, ConnectorStatus] = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.OCCUPIED,
    "Charging": ConnectorStatus.OCCUPIED,
    "SuspendedEV": ConnectorStatus.OCCUPIED,
    "SuspendedEVSE": ConnectorStatus.OCCUPIED,
    "Finishing": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}


def parse_time(value: str | None, field: str = "timestamp") -> datetime | None:
    """A charger's date-time (the schemas say format date-time, which jsonschema doesn't check).

    A value without an offset is taken as UTC (OCPP requires UTC). Text that is not a date-time
    is a TypeConstraintViolation.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise OcppFault(Fault.WRONG_TYPE, f"{field}: not a date-time: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def v16_status(status: str) -> tuple[ConnectorStatus, str | None]:
    normalised = V16_STATUS[status]
    return normalised, (status if status != normalised.value else None)


def v16_evse(connector_id: int) -> tuple[int, int | None]:
    """1.6 connectorId N -> (evse N, connector 1); connector 0 is the whole station."""
    return (connector_id, 1) if connector_id > 0 else (0, None)


def _number(text: Any, field: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise OcppFault(Fault.WRONG_TYPE, f"{field}: not a number: {str(text)[:40]!r}") from None


def v16_samples(meter_values: list[dict[str, Any]], **ids: Any) -> list[tuple[datetime, MeterSample]]:
    """1.6 MeterValue[] (as received) -> (charger time, sample) per sampled value.

    A SignedData sampledValue carries the signature, not a number: it is attached to the Raw
    sample with the same measurand / phase / location / context (the usual way chargers send
    Eichrecht data); an orphan signed value keeps its text in `signed_data` with value 0.
    """
    out: list[tuple[datetime, MeterSample]] = []
    for i, mv in enumerate(meter_values):
        at = parse_time(mv["timestamp"], f"meterValue/{i}/timestamp")
        raw: dict[tuple, dict[str, Any]] = {}
        signed: dict[tuple, str] = {}
        for sv in mv["sampledValue"]:
            key = (sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase"),
                   sv.get("location") or DEFAULT_LOCATION, sv.get("context") or DEFAULT_CONTEXT)
            if sv.get("format") == "SignedData":
                signed[key] = sv["value"]
            else:
                raw[key] = sv
        for key in list(signed):
            if key not in raw:
                raw[key] = {"value": "0", "unit": None}
        for key, sv in raw.items():
            measurand, phase, location, context = key
            value, unit = to_base_unit(_number(sv["value"], "sampledValue/value"), sv.get("unit"), measurand)
            out.append((at, MeterSample(
                measurand=measurand, phase=phase, location=location, context=context, value=value,
                unit=unit, signed_data=signed.get(key), **ids,
            )))
    return out


def v201_samples(meter_values: list[dict[str, Any]], **ids: Any) -> list[tuple[datetime, MeterSample]]:
    """2.0.1 MeterValueType[] (camelCase, as received) -> (charger time, sample)."""
    out: list[tuple[datetime, MeterSample]] = []
    for i, mv in enumerate(meter_values):
        at = parse_time(mv["timestamp"], f"meterValue/{i}/timestamp")
        for sv in mv["sampledValue"]:
            measurand = sv.get("measurand") or DEFAULT_MEASURAND
            uom = sv.get("unitOfMeasure") or {}
            scaled = float(sv["value"]) * (10 ** uom.get("multiplier", 0))
            value, unit = to_base_unit(scaled, uom.get("unit"), measurand)
            out.append((at, MeterSample(
                measurand=measurand, phase=sv.get("phase"), location=sv.get("location") or DEFAULT_LOCATION,
                context=sv.get("context") or DEFAULT_CONTEXT, value=value, unit=unit,
                signed_data=sv.get("signedMeterValue"), **ids,
            )))
    return out


def energy_register(samples: list[tuple[datetime, MeterSample]], context: str) -> float | None:
    """The Energy.Active.Import.Register value (Wh) with the given context, if any."""
    for _, s in samples:
        if s.measurand == DEFAULT_MEASURAND and s.context == context and s.phase is None:
            return s.value
    return None
