"""Energy and charging periods of one session (pure).

Energy is the sum of the register's increases between consecutive readings (meter start, samples,
meter stop) in time order. A decrease is a meter counter reset (meter swap, firmware reset): the
lower reading becomes the new baseline and the session is flagged `meter_reset`; no negative
energy is ever billed.

Periods split the session by state: 2.0.1 ChargingState (1.6 connector statuses map onto it at the
gateway) Charging -> charging, SuspendedEV / SuspendedEVSE -> suspended, EVConnected / Idle ->
suspended before the first charging and idle (OCPI parking time) after it. Without any state fact
the whole session is charging. A step's energy belongs to the period its reading closes; a
period's max power comes from power samples, or from the energy steps when there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from libs.events.sessions import PeriodState

CHARGING_STATES = {
    "Charging": PeriodState.CHARGING,
    "SuspendedEV": PeriodState.SUSPENDED,
    "SuspendedEVSE": PeriodState.SUSPENDED,
}


@dataclass
class Period:
    start: int
    end: int
    state: PeriodState
    energy_wh: float = 0.0
    max_power_w: float | None = None
    min_power_w: float | None = None
    max_current_a: float | None = None
    min_current_a: float | None = None


@dataclass
class Energy:
    total_wh: float = 0.0
    last_reading: float | None = None
    meter_reset: bool = False
    periods: list[Period] = field(default_factory=list)


def _timeline(cs: dict[str, str], start: int, end: int) -> list[tuple[int, PeriodState]]:
    points: list[tuple[int, PeriodState]] = []
    charged = False
    state = PeriodState.CHARGING
    for t, raw in sorted(((int(k), v) for k, v in cs.items()), key=lambda x: x[0]):
        if raw == "Charging":
            charged = True
        new = CHARGING_STATES.get(raw) or (PeriodState.IDLE if charged else PeriodState.SUSPENDED)
        if t <= start:
            state = new
        elif t < end:
            points.append((t, new))
    out = [(start, state)]
    for t, s in points:
        if s != out[-1][1]:
            out.append((t, s))
    return out


def _totals(samples: dict[str, dict[str, float]]) -> list[tuple[int, float, float, float]]:
    """Per timestamp: (t, total, max phase, min phase); a phase-less value is the total."""
    out = []
    for k, phases in samples.items():
        values = [v for p, v in phases.items() if p not in ("N",)]
        if not values:
            continue
        total = phases[""] if "" in phases else sum(v for p, v in phases.items() if p.startswith("L") and "-" not in p)
        out.append((int(k), total, max(values), min(values)))
    return sorted(out)


def compute(state: dict[str, Any], end: int) -> Energy:
    start_fact = state["start"] or {}
    start = start_fact.get("t") if start_fact else None
    if start is None:
        start = min(_fact_times(state), default=end)
    readings: list[tuple[int, int, float]] = []  # (t, order, Wh)
    if start_fact.get("m") is not None:
        readings.append((start, 0, start_fact["m"]))
    readings += [(int(k), 1, v) for k, v in state["e"].items() if start <= int(k) <= end]
    stop = (state["end"] or {}).get("m")
    if stop is not None:
        readings.append((end, 2, stop))
    readings.sort()

    result = Energy()
    timeline = _timeline(state["cs"], start, end)
    bounds = [t for t, _ in timeline[1:]] + [end]
    periods = [Period(t, b, s) for (t, s), b in zip(timeline, bounds, strict=True)]

    def period_of(t: int) -> Period:
        """The period a reading at t closes (a reading describes the interval that ends at it)."""
        for p in periods:
            if p.start < t <= p.end:
                return p
        return periods[0] if t <= start else periods[-1]

    derived: dict[int, list[float]] = {}
    for (t0, _, w0), (t1, _, w1) in zip(readings, readings[1:], strict=False):
        delta = w1 - w0
        if delta < 0:
            result.meter_reset = True
            continue
        p = period_of(t1)
        p.energy_wh += delta
        result.total_wh += delta
        if t1 > t0 and delta > 0:
            derived.setdefault(id(p), []).append(delta * 3_600_000 / (t1 - t0))
    result.last_reading = readings[-1][2] if readings else None

    for t, total, _, _ in _totals(state["pw"]):
        if start <= t <= end:
            p = period_of(t)
            p.max_power_w = total if p.max_power_w is None else max(p.max_power_w, total)
            p.min_power_w = total if p.min_power_w is None else min(p.min_power_w, total)
    for t, _, hi, lo in _totals(state["cur"]):
        if start <= t <= end:
            p = period_of(t)
            p.max_current_a = hi if p.max_current_a is None else max(p.max_current_a, hi)
            p.min_current_a = lo if p.min_current_a is None else min(p.min_current_a, lo)
    for p in periods:
        if p.max_power_w is None and id(p) in derived:
            p.max_power_w = round(max(derived[id(p)]), 3)
        p.energy_wh = round(p.energy_wh, 3)
    result.total_wh = round(result.total_wh, 3)
    result.periods = periods
    return result


def _fact_times(state: dict[str, Any]) -> list[int]:
    times = [int(k) for part in ("e", "pw", "cur", "cs", "tok") for k in state[part]]
    if state["end"]:
        times.append(state["end"]["t"])
    return times


def last_fact_time(state: dict[str, Any]) -> int | None:
    times = _fact_times(state)
    if state["start"]:
        times.append(state["start"]["t"])
    return max(times, default=None)
