"""Property tests (hypothesis) of the tariff engine, issue 7: "cost never negative and never
decreasing with more energy or time; step_size respected; VAT per component adds up".

Scope: tariffs without max_* / duration restrictions. The generated restrictions are time of day
and day of week; kWh, power and current restrictions legitimately change the applicable element
with the amount or speed of energy. Every property is asserted exactly: the engine rounds each CDR
field once from exact amounts (docs/tariffs.md "Money"), so rounding can never make a total fall.

Where OCPI 2.2.1 itself makes a total fall with more volume, the generator leaves those tariffs
out, each for a stated reason; docs/tariffs.md "Monotonicity" has the rule and the spec passages,
and test_monotonicity_exceptions.py prices one instance of each by hand. The reasons all come
from step_size: it rounds the session's *total* of a unit ("The step_size uses the total amount
of a certain unit used during a session") and the excess is billed at "the last relevant
PriceComponent", so the excess shrinks when volume is added anywhere priced below that component
(or not priced at all), and the last component itself can change with more time.

"More energy": one charging segment gets more Wh, at the same moments (time and states unchanged).
"More time": the session lasts longer in its last state, with no more energy. Extending the last
segment *with its energy* would spread the same energy over a longer time, moving some of it into
later time windows, which may be cheaper or free: a genuine decrease, not "more".
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.tariffs import Cost, Segment, SegmentState, SessionInput, price_session
from libs.tariffs.money import ceil_to_step
from tests.unit.tariffs.support import tariff

D = Decimal
# TARIFF_PROPERTY_EXAMPLES=2000 for a deep local run; the default keeps the unit suite quick.
EXAMPLES = settings(max_examples=int(os.environ.get("TARIFF_PROPERTY_EXAMPLES", "150")), deadline=None)
prices = st.decimals(min_value=0, max_value=10, places=2)
vats = st.sampled_from([None, 0, 5.5, 10, 19, 20, 25])
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
ANY_TIME_STEP = st.sampled_from([1, 60, 300, 900])
ANY_ENERGY_STEP = st.sampled_from([1, 100, 500])


def component(kind: str, steps) -> st.SearchStrategy:
    step = st.just(1) if kind == "FLAT" else steps
    return st.builds(lambda p, v, s: {"type": kind, "price": float(p), "step_size": s,
                                      **({} if v is None else {"vat": v})}, prices, vats, step)


restrictions = st.one_of(
    st.none(),
    st.builds(lambda a, b: {"start_time": a, "end_time": b}, hhmm, hhmm),
    st.builds(lambda d: {"day_of_week": d}, st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True)),
)


@st.composite
def tariffs(draw, restricted: bool = True, time_steps=ANY_TIME_STEP, energy_steps=ANY_ENERGY_STEP,
            uniform: frozenset[str] = frozenset()):
    """Up to 4 elements (1 unrestricted when not `restricted`), optional min/max_price.

    `uniform` dimensions have one price component (price, VAT, step) wherever they appear, and a
    last, unrestricted element carries them all (the "default" element mod_tariffs advises), so
    every kWh / second of that dimension is priced at the same rate with the same step.
    """
    def steps(kind: str):
        return energy_steps if kind == "ENERGY" else time_steps

    shared = {kind: draw(component(kind, steps(kind))) for kind in uniform}
    elements = []
    for _ in range(draw(st.integers(1, 4 if restricted else 1))):
        kinds = draw(st.lists(st.sampled_from(["FLAT", "ENERGY", "TIME", "PARKING_TIME"]), min_size=1,
                              max_size=4, unique=True))
        comps = [shared.get(k) or draw(component(k, steps(k))) for k in kinds]
        el = {"price_components": comps}
        r = draw(restrictions) if restricted else None
        if r:
            el["restrictions"] = r
        elements.append(el)
    if shared:
        elements.append({"price_components": list(shared.values())})
    extra = {}
    if draw(st.booleans()):
        extra["min_price"] = {"excl_vat": float(draw(prices))}
    if draw(st.booleans()):
        extra["max_price"] = {"excl_vat": float(draw(prices) * 3)}
    return tariff(elements, **extra)


@st.composite
def sessions(draw):
    start = datetime(2024, 3, 4, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))
    segs, t = [], start
    for _ in range(draw(st.integers(1, 3))):
        state = draw(st.sampled_from([SegmentState.CHARGING, SegmentState.CHARGING, SegmentState.SUSPENDED]))
        dur = timedelta(seconds=draw(st.integers(1, 3 * 3600)))
        energy = D(draw(st.integers(1, 50_000))) if state is SegmentState.CHARGING else D(0)
        segs.append(Segment(t, t + dur, state, energy))
        t += dur
    if draw(st.booleans()):
        dur = timedelta(seconds=draw(st.integers(1, 2 * 3600)))
        segs.append(Segment(t, t + dur, SegmentState.IDLE))
        t += dur
    return SessionInput(start=start, end=t, time_zone="Europe/Berlin", segments=tuple(segs))


def with_more_time(s: SessionInput, extra: timedelta) -> SessionInput:
    """The session goes on for `extra` in its last state (idle stays idle, charging or suspended
    continue as suspended: both are TIME), without more energy."""
    last = s.segments[-1]
    state = SegmentState.IDLE if last.state is SegmentState.IDLE else SegmentState.SUSPENDED
    grown = Segment(s.end, s.end + extra, state)
    return SessionInput(start=s.start, end=s.end + extra, time_zone=s.time_zone,
                        segments=(*s.segments, grown))


def with_more_energy(s: SessionInput, index: int, extra_wh: int) -> SessionInput:
    charging = [i for i, x in enumerate(s.segments) if x.state is SegmentState.CHARGING]
    if not charging:
        return s
    i = charging[index % len(charging)]
    seg = s.segments[i]
    segs = list(s.segments)
    segs[i] = Segment(seg.start, seg.end, seg.state, seg.energy_wh + extra_wh)
    return SessionInput(start=s.start, end=s.end, time_zone=s.time_zone, segments=tuple(segs))


def parts(p):
    return [c for c in (p.fixed, p.energy, p.time, p.parking, p.reservation) if c is not None]


def assert_not_cheaper(after, before) -> None:
    """Both sides, exactly: no rounding slack."""
    assert after.total.excl_vat >= before.total.excl_vat
    assert after.total.incl_vat >= before.total.incl_vat
    assert after.subtotal.excl_vat >= before.subtotal.excl_vat
    assert after.subtotal.incl_vat >= before.subtotal.incl_vat


@EXAMPLES
@given(tariffs(), sessions())
def test_cost_is_never_negative(t, s):
    p = price_session(t, s)
    assert p.total.excl_vat >= 0 and p.total.incl_vat >= 0
    assert all(c.excl_vat >= 0 and c.incl_vat >= c.excl_vat for c in parts(p))


# More energy, any time-of-day / day-of-week elements with their own prices and VAT, ENERGY step
# 1 Wh: sessions meter whole Wh, so the total is never rounded up and every added Wh is billed
# at the price of the element active when it flows. Larger steps with different ENERGY prices are
# left out: the step excess is billed at the last ENERGY component's price, so energy added
# where it is cheaper (or free: no ENERGY element active) lowers the excess by more than it costs
# (docs/tariffs.md "Monotonicity" 1).
@EXAMPLES
@given(tariffs(energy_steps=st.just(1)), sessions(), st.integers(0, 10), st.integers(1, 20_000))
def test_more_energy_never_costs_less_with_per_wh_billing(t, s, index, extra_wh):
    assert_not_cheaper(price_session(t, with_more_energy(s, index, extra_wh)), price_session(t, s))


# Any step_size, but ENERGY priced by one component (price, VAT, step) everywhere, with a default
# element: the billed energy is the rounded-up total, at one rate.
@EXAMPLES
@given(tariffs(uniform=frozenset({"ENERGY"})), sessions(), st.integers(0, 10), st.integers(1, 20_000))
def test_more_energy_never_costs_less_with_one_energy_rate(t, s, index, extra_wh):
    assert_not_cheaper(price_session(t, with_more_energy(s, index, extra_wh)), price_session(t, s))


# More time, any elements, time steps of 1 s (whole-second sessions: nothing rounded up). Larger
# steps with several time components are left out (docs/tariffs.md "Monotonicity" 2-4): the
# added time can reach an element whose component becomes the "last relevant" one (another step,
# another price for the excess), fall where no component applies (more unpriced time, smaller
# excess: tariff example 14's free parking after 20:00), or make PARKING_TIME priced for the
# first time, which moves the step from charging time to parking time.
@EXAMPLES
@given(tariffs(time_steps=st.just(1)), sessions(), st.integers(1, 4 * 3600))
def test_more_time_never_costs_less_with_per_second_billing(t, s, extra_s):
    assert_not_cheaper(price_session(t, with_more_time(s, timedelta(seconds=extra_s))), price_session(t, s))


# Any step_size, TIME and PARKING_TIME (both, one or none) each priced by one component
# everywhere, with a default element; ENERGY and FLAT elements restricted freely. This includes
# tariffs with both TIME and PARKING_TIME and different VAT rates.
@EXAMPLES
@given(tariffs(uniform=frozenset({"TIME", "PARKING_TIME"})), sessions(), st.integers(1, 4 * 3600))
def test_more_time_never_costs_less_with_one_rate_per_time_dimension(t, s, extra_s):
    assert_not_cheaper(price_session(t, with_more_time(s, timedelta(seconds=extra_s))), price_session(t, s))


@EXAMPLES
@given(tariffs(restricted=False), sessions(), st.integers(1, 4 * 3600))
def test_more_time_never_costs_less_with_one_element(t, s, extra_s):
    assert_not_cheaper(price_session(t, with_more_time(s, timedelta(seconds=extra_s))), price_session(t, s))


@EXAMPLES
@given(tariffs(), sessions())
def test_step_size_is_respected(t, s):
    p = price_session(t, s)
    energy = [c.component for c in t.candidates["ENERGY"]]
    if energy and p.energy is not None:
        steps = {c.step_size for c in energy}
        assert any(p.billed_energy_wh % step == 0 for step in steps)  # a multiple of the last step used
        assert 0 <= p.billed_energy_wh - p.measured_energy_wh < max(steps)
    if p.time_step_dimension is not None:
        steps = {c.component.step_size for c in t.candidates[p.time_step_dimension]}
        assert any(p.billed_time_s % step == 0 for step in steps)
        assert 0 <= p.billed_time_s - p.measured_time_s < max(steps)


def r4(x: Fraction) -> Decimal:
    """Exact round half up to 4 decimals, independent of the engine's Decimal arithmetic."""
    n = x * 10_000
    return D(int(n + Fraction(1, 2)) if n >= 0 else -int(-n + Fraction(1, 2))) / 10_000


@EXAMPLES
@given(tariffs(restricted=False), sessions())
def test_vat_per_component_adds_up_one_element(t, s):
    # One element, so one component per dimension: each category is its billed amount x price,
    # and incl. VAT is that x (1 + vat/100), each rounded once; the total is the exact sum of the
    # categories rounded once, so it differs from the sum of the rounded parts by at most half a
    # unit of the 4th decimal per part (docs/tariffs.md "Money").
    p = price_session(t, s)
    comps = {c.component.dimension: c.component for cands in t.candidates.values() for c in cands}
    exact: dict[str, tuple[Fraction, Fraction]] = {}

    def expect(dim, quantity):
        c = comps[dim]
        excl = Fraction(c.price) * Fraction(quantity)
        incl = excl * (1 + (Fraction(c.vat) / 100 if c.vat is not None else 0))
        exact[dim] = excl, incl
        return r4(excl), r4(incl)

    if "ENERGY" in comps and p.energy is not None:
        billed = ceil_to_step(p.measured_energy_wh, comps["ENERGY"].step_size)
        assert (p.energy.excl_vat, p.energy.incl_vat) == expect("ENERGY", billed / 1000)
    if "FLAT" in comps:
        assert (p.fixed.excl_vat, p.fixed.incl_vat) == expect("FLAT", D(1))
    parked = sum((x.duration_s for x in p.periods if x.state is SegmentState.IDLE), D(0))
    if "PARKING_TIME" in comps and parked > 0:
        billed = ceil_to_step(parked, comps["PARKING_TIME"].step_size)
        assert (p.parking.excl_vat, p.parking.incl_vat) == expect("PARKING_TIME", Fraction(billed) / 3600)
    if "TIME" in comps and p.time is not None:
        charged = sum((x.duration_s for x in p.periods if x.state is not SegmentState.IDLE), D(0))
        stepped = not (parked > 0 and "PARKING_TIME" in comps)  # else the step rounds parking only
        billed = ceil_to_step(charged, comps["TIME"].step_size) if stepped else charged
        assert (p.time.excl_vat, p.time.incl_vat) == expect("TIME", Fraction(billed) / 3600)
    assert p.subtotal == Cost(r4(sum(e for e, _ in exact.values())), r4(sum(i for _, i in exact.values())))
    n = len(parts(p))
    assert abs(p.subtotal.excl_vat - sum(c.excl_vat for c in parts(p))) <= D("0.00005") * (n + 1)
    assert abs(p.subtotal.incl_vat - sum(c.incl_vat for c in parts(p))) <= D("0.00005") * (n + 1)


@EXAMPLES
@given(tariffs(), sessions())
def test_vat_per_component_adds_up(t, s):
    # Any elements: the ledger's lines (quantity per category and rate) priced here with exact
    # fractions give every CDR field: excl. VAT from the price, incl. VAT per component from its
    # own VAT rate (none: no VAT), each field rounded once, the total from the exact sum.
    p = price_session(t, s)
    excl: dict[str, Fraction] = {}
    incl: dict[str, Fraction] = {}
    for line in p.ledger.lines():
        r = line.rate
        amount = Fraction(r.excl) * Fraction(line.quantity) / r.per
        excl[line.category] = excl.get(line.category, Fraction(0)) + amount
        vat = Fraction(r.vat) / 100 if r.vat is not None else 0
        incl[line.category] = incl.get(line.category, Fraction(0)) + amount * (1 + vat)
    fields = {"fixed": p.fixed, "energy": p.energy, "time": p.time, "parking": p.parking,
              "reservation": p.reservation}
    assert {c for c, v in fields.items() if v is not None} == set(excl)
    for category in excl:
        assert fields[category].excl_vat == r4(excl[category])
        assert fields[category].incl_vat == r4(incl[category])
    assert p.subtotal.excl_vat == r4(sum(excl.values(), Fraction(0)))
    assert p.subtotal.incl_vat == r4(sum(incl.values(), Fraction(0)))
