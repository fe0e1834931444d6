"""Cut a session into slices at every moment a restriction can change its answer.

mod_cdrs.asciidoc, ChargingPeriod: "A CPO SHALL at least start (and add) a ChargingPeriod every
moment/event that has relevance for the total costs of a CDR ... When an energy based Tariff
changes in price after 17:00. The CPO SHALL start a new Charging Period at 17:00".

Cuts, all computed per segment:
- local times of day named by start_time/end_time, and local midnight when a day_of_week or
  date restriction exists, in the Location's time zone (mod_tariffs.asciidoc: "Start time of day
  in local time, the time zone is defined in the `time_zone` field of the Location"), so a DST
  change moves the UTC instant of "07:00" as it should;
- session start + min_duration / max_duration;
- the moment the session's energy reaches min_kwh / max_kwh, interpolated linearly within the
  segment ("it can be interpolated by the CPO using the metering information before and after
  that moment", mod_cdrs.asciidoc, ChargingPeriod). The energy at such a cut is exactly the
  threshold, and every slice's energy is a difference of cut energies, so the slices of a
  segment add up to its energy exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from libs.tariffs.compiled import Boundaries
from libs.tariffs.model import Segment
from libs.tariffs.money import ZERO, seconds

_US = timedelta(microseconds=1)


@dataclass(slots=True)
class Slice:
    start: datetime
    end: datetime
    segment: Segment | None  # None: reservation time
    segment_index: int
    energy_before_wh: Decimal  # session energy consumed before the slice
    energy_wh: Decimal
    duration_s: Decimal


@lru_cache(maxsize=65536)
def _day_instants(day: date, minutes: tuple[int, ...], tz: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants of local times of day on one local date (DST-aware, cached)."""
    return tuple(datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz).astimezone(UTC) for m in minutes)


def _local_cuts(start: datetime, end: datetime, minutes: tuple[int, ...], tz: ZoneInfo) -> list[datetime]:
    cuts = []
    day: date = start.astimezone(tz).date()
    last: date = end.astimezone(tz).date()
    while day <= last:
        cuts.extend(t for t in _day_instants(day, minutes, tz) if start < t < end)
        day += timedelta(days=1)
    return cuts


def split_span(
    start: datetime,
    end: datetime,
    energy_wh: Decimal,
    energy_before_wh: Decimal,
    origin: datetime,
    boundaries: Boundaries,
    tz: ZoneInfo,
    segment: Segment | None = None,
    segment_index: int = 0,
) -> list[Slice]:
    """Slices of one span [start, end) with `energy_wh` flowing evenly; durations count from `origin`."""
    span = end - start
    cuts: dict[datetime, Decimal | None] = {}  # time -> exact energy at the cut (None: interpolate)
    if boundaries.minutes_of_day:
        for t in _local_cuts(start, end, boundaries.minutes_of_day, tz):
            cuts.setdefault(t, None)
    for d in boundaries.durations_s:
        t = origin + timedelta(seconds=d)
        if start < t < end:
            cuts.setdefault(t, None)
    if energy_wh > 0 and boundaries.energies_wh:
        total_us = span // _US
        for w in boundaries.energies_wh:
            if energy_before_wh < w < energy_before_wh + energy_wh:
                offset = int((w - energy_before_wh) / energy_wh * total_us)
                t = start + timedelta(microseconds=offset)
                if start < t < end:
                    cuts[t] = w
    if not cuts:
        return [Slice(start, end, segment, segment_index, energy_before_wh, energy_wh, seconds(span))]
    span_s = seconds(span)
    slices: list[Slice] = []
    prev_t, prev_e = start, energy_before_wh
    final_e = energy_before_wh + energy_wh
    for t in sorted(cuts):
        exact = cuts[t]
        e = exact if exact is not None else energy_before_wh + energy_wh * seconds(t - start) / span_s
        e = min(max(e, prev_e), final_e) if energy_wh >= 0 else e
        slices.append(Slice(prev_t, t, segment, segment_index, prev_e, e - prev_e, seconds(t - prev_t)))
        prev_t, prev_e = t, e
    slices.append(Slice(prev_t, end, segment, segment_index, prev_e, final_e - prev_e, seconds(end - prev_t)))
    return slices


def split_session(
    segments: tuple[Segment, ...], origin: datetime, boundaries: Boundaries, tz: ZoneInfo
) -> list[Slice]:
    out: list[Slice] = []
    energy = ZERO
    for i, seg in enumerate(segments):
        out.extend(split_span(seg.start, seg.end, seg.energy_wh, energy, origin, boundaries, tz, seg, i))
        energy += seg.energy_wh
    return out
