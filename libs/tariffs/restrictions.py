"""Is a TariffElement active at one moment? (mod_tariffs.asciidoc, TariffRestrictions class)

"When more than one restriction is set, they are to be threaded as a logical AND." Each
restriction is evaluated at a moment of the session; `splitting` cuts the session wherever a
restriction can change, so a restriction evaluated at the start of a slice holds for all of it.

Readings (docs/tariffs.md):
- start_time/end_time: local time of the Location, start inclusive, end exclusive; end < start
  wraps to the next day ("If end_time < start_time then the period wraps around to the next
  day"); end 00:00 is the end of the day ("To stop at end of the day use: 00:00"); start == end
  is the whole day.
- day_of_week / start_date (inclusive) / end_date (exclusive): the local date of the moment, each
  evaluated on its own (a 22:00-06:00 window with day_of_week FRIDAY is active Friday 22:00-24:00
  and Friday 00:00-06:00, not Saturday 00:00-06:00).
- min_kwh (inclusive) / max_kwh (exclusive): energy consumed in the session so far.
- min_duration (inclusive) / max_duration (exclusive): seconds since the session started.
- min_/max_current, min_/max_power: "When the EV is charging with more than, or equal to ... is/
  becomes active"; "with less than ... becomes/is active". A slice is active only when the
  condition holds throughout it: min_* is checked against the slice's minimum, max_* against its
  maximum (the average power when the charger reported no minimum/maximum).
- reservation: an element with it describes reservation costs only, an element without it only
  session costs. RESERVATION applies to every reservation, RESERVATION_EXPIRES only to an
  expired one (the first matching element per dimension wins, as everywhere: tariff example 18).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from libs.ocpi.models import TariffRestrictions
from libs.ocpi.types import DayOfWeek, ReservationRestrictionType
from libs.tariffs.money import WH_PER_KWH, dec

_WEEKDAY = {d: i for i, d in enumerate(DayOfWeek)}  # MONDAY=0 … SUNDAY=6, as date.weekday()


def _minutes(hhmm: str | None) -> int | None:
    if hhmm is None:
        return None
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _opt(value) -> Decimal | None:
    return None if value is None else dec(value)


@dataclass(frozen=True, slots=True)
class Moment:
    """What the restrictions look at, at the start of one slice."""

    local: datetime  # in the Location's time zone
    elapsed_s: Decimal  # since the session (or reservation) started
    energy_wh: Decimal  # consumed before this moment
    min_power_kw: Decimal | None
    max_power_kw: Decimal | None
    min_current_a: Decimal | None
    max_current_a: Decimal | None
    reservation: bool = False  # a moment of a reservation, not of the session
    expired: bool = False  # that reservation expired


@dataclass(frozen=True, slots=True)
class Restriction:
    start_min: int | None = None
    end_min: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_wh: Decimal | None = None
    max_wh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    weekdays: frozenset[int] | None = None
    reservation: ReservationRestrictionType | None = None

    @classmethod
    def of(cls, r: TariffRestrictions | None) -> Restriction:
        if r is None:
            return cls()
        return cls(
            start_min=_minutes(r.start_time),
            end_min=_minutes(r.end_time),
            start_date=date.fromisoformat(r.start_date) if r.start_date else None,
            end_date=date.fromisoformat(r.end_date) if r.end_date else None,
            min_wh=None if r.min_kwh is None else dec(r.min_kwh) * WH_PER_KWH,
            max_wh=None if r.max_kwh is None else dec(r.max_kwh) * WH_PER_KWH,
            min_current=_opt(r.min_current),
            max_current=_opt(r.max_current),
            min_power=_opt(r.min_power),
            max_power=_opt(r.max_power),
            min_duration=r.min_duration,
            max_duration=r.max_duration,
            weekdays=frozenset(_WEEKDAY[d] for d in r.day_of_week) if r.day_of_week else None,
            reservation=r.reservation,
        )

    def matches(self, m: Moment) -> bool:
        if self.reservation is None:
            if m.reservation:
                return False
        elif not m.reservation or (
            self.reservation == ReservationRestrictionType.RESERVATION_EXPIRES and not m.expired
        ):
            return False
        if (self.start_min is not None or self.end_min is not None) and not self._time_of_day(m.local):
            return False
        if self.weekdays is not None and m.local.weekday() not in self.weekdays:
            return False
        if self.start_date is not None and m.local.date() < self.start_date:
            return False
        if self.end_date is not None and m.local.date() >= self.end_date:
            return False
        if self.min_wh is not None and m.energy_wh < self.min_wh:
            return False
        if self.max_wh is not None and m.energy_wh >= self.max_wh:
            return False
        if self.min_duration is not None and m.elapsed_s < self.min_duration:
            return False
        if self.max_duration is not None and m.elapsed_s >= self.max_duration:
            return False
        if self.min_current is not None and (m.min_current_a is None or m.min_current_a < self.min_current):
            return False
        if self.max_current is not None and (m.max_current_a is None or m.max_current_a >= self.max_current):
            return False
        if self.min_power is not None and (m.min_power_kw is None or m.min_power_kw < self.min_power):
            return False
        if self.max_power is not None and (m.max_power_kw is None or m.max_power_kw >= self.max_power):
            return False
        return True

    def _time_of_day(self, local: datetime) -> bool:
        t = local.hour * 60 + local.minute
        start, end = self.start_min, self.end_min
        if start is not None and end is not None:
            if start < end:
                return start <= t < end
            if end < start:  # wraps past midnight (end 00:00: until the end of the day)
                return t >= start or t < end
            return True  # start == end: the whole day
        if start is not None:
            return t >= start
        assert end is not None
        return end == 0 or t < end  # end 00:00 alone: "stop at end of the day"
