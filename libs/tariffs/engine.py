"""The tariff engine: a compiled Tariff and a session in, costs and charging periods out. Pure.

Order of work (each step its own module):
1. validate the session (`ImpossibleSession` for data no tariff can price);
2. cut it into slices where a restriction may change (`splitting`, in the Location's time zone);
3. per slice and dimension, the first matching element prices it (`compiled.first`), FLAT once
   per session (and once per reservation);
4. step_size once per session per group (`step_size`);
5. every priced quantity goes to the `ledger` under its category and rate (price, VAT);
6. exact amounts per category and in total from the ledger; min_price / max_price on the exact
   total (`limits`); then each CDR field is rounded once (`money`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs.tariffs.compiled import CompiledTariff, Component
from libs.tariffs.ledger import Ledger
from libs.tariffs.limits import apply_limits
from libs.tariffs.model import (
    ImpossibleSession,
    PricedPeriod,
    PricedSession,
    Segment,
    SegmentState,
    SessionInput,
)
from libs.tariffs.money import SECONDS_PER_HOUR, WH_PER_KWH, ZERO, seconds
from libs.tariffs.restrictions import Moment
from libs.tariffs.splitting import Slice, split_session, split_span
from libs.tariffs.step_size import step_excess

FLAT, ENERGY, TIME, PARKING = "FLAT", "ENERGY", "TIME", "PARKING_TIME"
CATEGORIES = ("fixed", "energy", "time", "parking", "reservation")
ONE = Decimal(1)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImpossibleSession("unknown_time_zone", name) from exc


def validate(session: SessionInput) -> None:
    if session.end < session.start:
        raise ImpossibleSession("negative_duration", f"session ends {session.end} before it starts")
    prev_end: datetime = session.start
    for i, seg in enumerate(session.segments):
        if seg.end < seg.start:
            raise ImpossibleSession("negative_duration", f"period {i} ends before it starts")
        if seg.start < prev_end:
            raise ImpossibleSession("overlapping_periods", f"period {i} starts before the previous one ends")
        if seg.end > session.end:
            raise ImpossibleSession("period_outside_session", f"period {i} ends after the session")
        if not seg.energy_wh.is_finite():
            raise ImpossibleSession("invalid_energy", f"period {i}")
        prev_end = seg.end
    r = session.reservation
    if r is not None and r.end < r.start:
        raise ImpossibleSession("negative_duration", "reservation ends before it starts")


def _segment_power(seg: Segment) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """(min_power_kw, max_power_kw, min_current_a, max_current_a) the restrictions look at."""
    dur = seconds(seg.end - seg.start)
    avg = None
    if seg.energy_wh == 0:
        avg = ZERO
    elif dur > 0:
        avg = seg.energy_wh / WH_PER_KWH / (dur / SECONDS_PER_HOUR)
    min_p = seg.min_power_kw if seg.min_power_kw is not None else avg
    max_p = seg.max_power_kw if seg.max_power_kw is not None else avg
    no_flow = ZERO if seg.energy_wh == 0 else None
    min_c = seg.min_current_a if seg.min_current_a is not None else (seg.max_current_a if seg.max_current_a is not None else no_flow)
    max_c = seg.max_current_a if seg.max_current_a is not None else (seg.min_current_a if seg.min_current_a is not None else no_flow)
    return min_p, max_p, min_c, max_c


def price_session(tariff: CompiledTariff, session: SessionInput) -> PricedSession:
    validate(session)
    tz = _zone(session.time_zone)
    ledger = Ledger()
    periods: list[PricedPeriod] = []

    if session.reservation is not None:
        _price_reservation(tariff, session, tz, ledger, periods)

    slices = split_session(session.segments, session.start, tariff.boundaries, tz)
    flat_done = False
    last: dict[str, Component] = {}
    energy_total = time_total = parking_total = ZERO
    power_cache: dict[int, tuple] = {}
    for sl in slices:
        seg = sl.segment
        assert seg is not None
        power = power_cache.get(sl.segment_index)
        if power is None:
            power = power_cache[sl.segment_index] = _segment_power(seg)
        moment = Moment(
            local=sl.start.astimezone(tz), elapsed_s=seconds(sl.start - session.start),
            energy_wh=sl.energy_before_wh, min_power_kw=power[0], max_power_kw=power[1],
            min_current_a=power[2], max_current_a=power[3],
        )
        used: dict[str, int] = {}
        if not flat_done:
            comp = tariff.first(FLAT, moment)
            if comp is not None:
                ledger.add("fixed", comp.rate, ONE)
                used[FLAT] = comp.element
                flat_done = True
        energy_total += sl.energy_wh
        if sl.energy_wh != 0:
            comp = tariff.first(ENERGY, moment)
            if comp is not None:
                ledger.add("energy", comp.rate, sl.energy_wh)
                used[ENERGY] = comp.element
                last[ENERGY] = comp
        if seg.state is SegmentState.IDLE:
            dim, category = PARKING, "parking"
            parking_total += sl.duration_s
        else:
            dim, category = TIME, "time"
            time_total += sl.duration_s
        if sl.duration_s > 0:
            comp = tariff.first(dim, moment)
            if comp is not None:
                ledger.add(category, comp.rate, sl.duration_s)
                used[dim] = comp.element
                last[dim] = comp
        _append_period(periods, sl, used, power)

    # step_size, once per session per group (step_size.py)
    billed_energy = energy_total
    if ENERGY in last:
        comp = last[ENERGY]
        excess = step_excess(energy_total, comp.step_size)
        if excess:
            ledger.add("energy", comp.rate, excess)
        billed_energy = energy_total + excess
    time_dim, measured_time = None, ZERO
    if PARKING in last:
        time_dim, measured_time, category = PARKING, parking_total, "parking"
    elif TIME in last:
        time_dim, measured_time, category = TIME, time_total, "time"
    billed_time = measured_time
    if time_dim is not None:
        comp = last[time_dim]
        excess = step_excess(measured_time, comp.step_size)
        if excess:
            ledger.add(category, comp.rate, excess)
        billed_time = measured_time + excess

    # One rounding per CDR field, from exact amounts (ledger.py, docs/tariffs.md "Money").
    exact, exact_total = ledger.amounts()
    limited, limited_by = apply_limits(exact_total, tariff.min_price, tariff.max_price)
    rounded = {c: cost.rounded() for c, cost in exact.items()}
    parts = {c: rounded.get(c) for c in CATEGORIES}
    subtotal = next(iter(rounded.values())) if len(rounded) == 1 else exact_total.rounded()
    return PricedSession(
        tariff_id=tariff.id, currency=tariff.currency, periods=periods,
        fixed=parts["fixed"], energy=parts["energy"], time=parts["time"], parking=parts["parking"],
        reservation=parts["reservation"], subtotal=subtotal,
        total=limited.rounded() if limited_by else subtotal,
        total_energy_kwh=energy_total / WH_PER_KWH,
        total_time_h=seconds(session.end - session.start) / SECONDS_PER_HOUR,
        total_parking_h=parking_total / SECONDS_PER_HOUR,
        billed_energy_wh=billed_energy, measured_energy_wh=energy_total,
        billed_time_s=billed_time, measured_time_s=measured_time, time_step_dimension=time_dim,
        limited_by=limited_by, ledger=ledger,
    )


def _append_period(periods: list[PricedPeriod], sl: Slice, used: dict[str, int], power: tuple) -> None:
    """One ChargingPeriod per slice; consecutive slices of one segment that changed no element
    are merged (a FLAT fee starting in a slice keeps that slice its own period)."""
    prev = periods[-1] if periods else None
    if (
        prev is not None and prev.segment_index == sl.segment_index and FLAT not in used
        and {k: v for k, v in prev.elements.items() if k != FLAT} == used
    ):
        prev.end = sl.end
        prev.energy_wh += sl.energy_wh
        prev.duration_s += sl.duration_s
        return
    seg = sl.segment
    assert seg is not None
    periods.append(PricedPeriod(
        start=sl.start, end=sl.end, state=seg.state, energy_wh=sl.energy_wh, duration_s=sl.duration_s,
        max_power_kw=seg.max_power_kw, min_power_kw=seg.min_power_kw,
        max_current_a=seg.max_current_a, min_current_a=seg.min_current_a,
        elements=dict(used), segment_index=sl.segment_index,
    ))


def _price_reservation(tariff: CompiledTariff, session: SessionInput, tz: ZoneInfo, ledger: Ledger,
                       periods: list[PricedPeriod]) -> None:
    """Reservation time (mod_tariffs.asciidoc, TariffRestrictions.reservation): only elements
    with a reservation restriction apply; FLAT once, TIME per hour, step_size on the total."""
    r = session.reservation
    assert r is not None
    flat_done = False
    last: Component | None = None
    total = ZERO
    for sl in split_span(r.start, r.end, ZERO, ZERO, r.start, tariff.boundaries, tz):
        moment = Moment(
            local=sl.start.astimezone(tz), elapsed_s=seconds(sl.start - r.start), energy_wh=ZERO,
            min_power_kw=ZERO, max_power_kw=ZERO, min_current_a=ZERO, max_current_a=ZERO,
            reservation=True, expired=r.expired,
        )
        used: dict[str, int] = {}
        if not flat_done:
            comp = tariff.first(FLAT, moment)
            if comp is not None:
                ledger.add("reservation", comp.rate, ONE)
                used[FLAT] = comp.element
                flat_done = True
        total += sl.duration_s
        comp = tariff.first(TIME, moment)
        if comp is not None and sl.duration_s > 0:
            ledger.add("reservation", comp.rate, sl.duration_s)
            used[TIME] = comp.element
            last = comp
        periods.append(PricedPeriod(start=sl.start, end=sl.end, state=None, energy_wh=ZERO,
                                    duration_s=sl.duration_s, elements=used))
    if last is not None:
        excess = step_excess(total, last.step_size)
        if excess:
            ledger.add("reservation", last.rate, excess)
