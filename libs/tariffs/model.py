"""The engine's input (a session as segments) and output (priced periods and costs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from libs.tariffs.money import ZERO, round4

if TYPE_CHECKING:
    from libs.tariffs.ledger import Ledger


class ImpossibleSession(ValueError):
    """Session data no tariff can price (periods out of order, negative durations, …)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SegmentState(StrEnum):
    """What the EV was doing; decides the time dimension (docs/tariffs.md "Time dimensions")."""

    CHARGING = "charging"  # OCPI TIME
    SUSPENDED = "suspended"  # connected, paused mid-session (EV or EVSE): OCPI TIME (session time)
    IDLE = "idle"  # connected and done: OCPI PARKING_TIME


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a session in one state; energy is assumed to flow evenly across it."""

    start: datetime  # aware
    end: datetime
    state: SegmentState
    energy_wh: Decimal = ZERO
    max_power_kw: Decimal | None = None
    min_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None
    min_current_a: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation before the session (or one that expired: then the session has no segments)."""

    start: datetime
    end: datetime
    expired: bool = False


@dataclass(frozen=True, slots=True)
class SessionInput:
    start: datetime  # session start (min/max_duration count from here)
    end: datetime
    time_zone: str  # IANA zone of the Location: every time restriction is local time there
    segments: tuple[Segment, ...]
    reservation: Reservation | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    excl_vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    def negated(self) -> Cost:
        return Cost(-self.excl_vat, -self.incl_vat)

    def rounded(self) -> Cost:
        """Both sides to 4 decimals (money.round4): done once per CDR field, from exact amounts."""
        return Cost(round4(self.excl_vat), round4(self.incl_vat))


ZERO_COST = Cost(ZERO, ZERO)


@dataclass(slots=True)
class PricedPeriod:
    """One CDR ChargingPeriod: a stretch where neither the state nor any active element changed."""

    start: datetime
    end: datetime
    state: SegmentState | None  # None: reservation time
    energy_wh: Decimal
    duration_s: Decimal
    max_power_kw: Decimal | None = None
    min_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None
    min_current_a: Decimal | None = None
    # dimension ("ENERGY", "TIME", "PARKING_TIME", "FLAT") -> index of the TariffElement used
    elements: dict[str, int] = field(default_factory=dict)
    segment_index: int | None = None  # which input segment (None: reservation)


@dataclass(slots=True)
class PricedSession:
    tariff_id: str
    currency: str
    periods: list[PricedPeriod]
    # Per category, None when no price component of that category applied. Every Cost here is
    # its exact amount rounded once (docs/tariffs.md "Money"): the parts need not add up to the
    # total to the last decimal.
    fixed: Cost | None
    energy: Cost | None
    time: Cost | None
    parking: Cost | None
    reservation: Cost | None
    subtotal: Cost  # exact sum of the categories, rounded; before min/max price
    total: Cost  # exact sum after min_price / max_price, rounded
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_h: Decimal
    # What step_size billed (docs/tariffs.md): measured and billed volume per step group.
    billed_energy_wh: Decimal = ZERO
    measured_energy_wh: Decimal = ZERO
    billed_time_s: Decimal = ZERO  # of the time dimension the step was applied to (or none)
    measured_time_s: Decimal = ZERO
    time_step_dimension: str | None = None  # "TIME" or "PARKING_TIME"
    limited_by: str | None = None  # "min_price" / "max_price" when a limit changed the total
    ledger: Ledger | None = None  # what was billed: quantity per category and rate (ledger.py)
