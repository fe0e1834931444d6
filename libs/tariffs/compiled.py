"""A Tariff compiled once into per-dimension lookup lists (the engine's hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from libs.ocpi.models import Tariff
from libs.ocpi.types import TariffDimensionType
from libs.tariffs.ledger import PER_FEE, PER_HOUR, PER_KWH, Rate, make_rate
from libs.tariffs.money import dec
from libs.tariffs.restrictions import Moment, Restriction

DIMENSIONS = (
    TariffDimensionType.FLAT,
    TariffDimensionType.ENERGY,
    TariffDimensionType.TIME,
    TariffDimensionType.PARKING_TIME,
)
_PER = {"FLAT": PER_FEE, "ENERGY": PER_KWH, "TIME": PER_HOUR, "PARKING_TIME": PER_HOUR}


@dataclass(frozen=True, slots=True)
class Component:
    dimension: str
    price: Decimal  # per unit (kWh, hour, or per session for FLAT), excl. VAT
    vat: Decimal | None
    step_size: int
    element: int  # index of its TariffElement
    rate: Rate  # price and VAT as the ledger bills them (shared by equal components)


@dataclass(frozen=True, slots=True)
class Candidate:
    restriction: Restriction
    component: Component


@dataclass(frozen=True, slots=True)
class Boundaries:
    """The moments at which some restriction of the tariff can change its answer."""

    minutes_of_day: tuple[int, ...]  # local times of day (start_time / end_time, midnight)
    durations_s: tuple[int, ...]  # min/max_duration
    energies_wh: tuple[Decimal, ...]  # min/max_kwh


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    tariff: Tariff
    id: str
    currency: str
    # dimension -> elements with a component of that dimension, in the tariff's order
    candidates: dict[str, tuple[Candidate, ...]]
    boundaries: Boundaries
    min_price: tuple[Decimal, Decimal | None] | None
    max_price: tuple[Decimal, Decimal | None] | None

    def first(self, dimension: str, moment: Moment) -> Component | None:
        """mod_tariffs.asciidoc: "the first Tariff Element with that Dimension in the list with
        matching Tariff Restrictions will be used"; none matching: no cost for the dimension."""
        for cand in self.candidates[dimension]:
            if cand.restriction.matches(moment):
                return cand.component
        return None

    def valid_at(self, at: datetime) -> bool:
        """Tariff.start_date_time (inclusive) / end_date_time ("after which ... no longer valid")."""
        t = self.tariff
        if t.start_date_time is not None and at < t.start_date_time:
            return False
        return not (t.end_date_time is not None and at > t.end_date_time)


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    candidates: dict[str, list[Candidate]] = {d.value: [] for d in DIMENSIONS}
    minutes: set[int] = set()
    durations: set[int] = set()
    energies: set[Decimal] = set()
    rates: dict[tuple[int, Decimal, Decimal | None], Rate] = {}
    for index, element in enumerate(tariff.elements):
        restriction = Restriction.of(element.restrictions)
        for pc in element.price_components:
            dimension, price, vat = pc.type.value, dec(pc.price), None if pc.vat is None else dec(pc.vat)
            key = (_PER[dimension], price, vat)
            rate = rates.get(key)
            if rate is None:
                rate = rates[key] = make_rate(*key)
            comp = Component(dimension=dimension, price=price, vat=vat, step_size=pc.step_size, element=index,
                             rate=rate)
            candidates[comp.dimension].append(Candidate(restriction, comp))
        r = restriction
        for m in (r.start_min, r.end_min):
            if m is not None:
                minutes.add(m)
        if r.weekdays is not None or r.start_date is not None or r.end_date is not None:
            minutes.add(0)  # the local date changes at midnight
        for d in (r.min_duration, r.max_duration):
            if d is not None:
                durations.add(d)
        for e in (r.min_wh, r.max_wh):
            if e is not None:
                energies.add(e)

    def price(p) -> tuple[Decimal, Decimal | None] | None:
        return None if p is None else (dec(p.excl_vat), None if p.incl_vat is None else dec(p.incl_vat))

    return CompiledTariff(
        tariff=tariff, id=tariff.id, currency=tariff.currency,
        candidates={k: tuple(v) for k, v in candidates.items()},
        boundaries=Boundaries(tuple(sorted(minutes)), tuple(sorted(durations)), tuple(sorted(energies))),
        min_price=price(tariff.min_price), max_price=price(tariff.max_price),
    )
