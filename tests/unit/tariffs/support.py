"""Builders for tariff engine tests: spec example tariffs and sessions in local time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from libs.ocpi.models import Tariff
from libs.tariffs import (
    CompiledTariff,
    Reservation,
    Segment,
    SegmentState,
    SessionInput,
    compile_tariff,
    price_session,
)

EXAMPLES = Path(__file__).parent / "ocpi_examples"
TZ = "Europe/Berlin"
D = Decimal


def example(name: str, **overrides) -> CompiledTariff:
    raw = json.loads((EXAMPLES / name).read_text())
    raw.update(overrides)
    return compile_tariff(Tariff.model_validate(raw))


def tariff(elements: list[dict], **fields) -> CompiledTariff:
    raw = {"country_code": "DE", "party_id": "VST", "id": "T1", "currency": "EUR",
           "last_updated": "2024-01-01T00:00:00Z", "elements": elements, **fields}
    return compile_tariff(Tariff.model_validate(raw))


def local(text: str, tz: str = TZ) -> datetime:
    """'2024-03-04 09:30' in the location's zone, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def session(start: datetime, *parts: tuple, tz: str = TZ, reservation: tuple | None = None) -> SessionInput:
    """parts: (state, minutes[, kwh[, extra segment fields]]) back to back from `start`.

    reservation: (minutes before start, expired) — the reservation ends when the session starts.
    """
    segments = []
    t = start
    for part in parts:
        state, minutes = part[0], part[1]
        kwh = D(str(part[2])) if len(part) > 2 else D(0)
        extra = {k: D(str(v)) for k, v in (part[3] if len(part) > 3 else {}).items()}
        end = t + timedelta(minutes=minutes)
        segments.append(Segment(t, end, SegmentState(state), kwh * 1000, **extra))
        t = end
    res = None
    if reservation is not None:
        res = Reservation(start - timedelta(minutes=reservation[0]), start, expired=reservation[1])
    return SessionInput(start=start, end=t, time_zone=tz, segments=tuple(segments), reservation=res)


def expired_reservation(start: datetime, minutes: float, tz: str = TZ) -> SessionInput:
    end = start + timedelta(minutes=minutes)
    return SessionInput(start=end, end=end, time_zone=tz, segments=(),
                        reservation=Reservation(start, end, expired=True))


def price(t: CompiledTariff, s: SessionInput):
    return price_session(t, s)
