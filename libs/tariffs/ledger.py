"""What a session is billed: exact quantities per cost category and rate; amounts formed once.

The engine records *quantities* (fees, Wh, seconds) per cost category and `Rate`, never amounts.
Amounts are formed at the end, one exact sum per CDR field, and each field is rounded once by the
engine (money.round4, docs/tariffs.md "Money"). Why quantities: a price per hour applied to
seconds divides by 3600, which Decimal cannot do exactly. Dividing every slice on its own and
summing left results a few units in the 28th digit off, and when the exact amount lies on a half
unit of the 4th decimal that decides the rounding: 900 billed seconds at 8.74/h with 19 % VAT are
exactly 2.60015 incl. VAT (-> 2.6002) as one slice, but came out 2.6001 as 2 s measured + 898 s
of step_size. Here numerators are exact sums and each field has one division, so a field is its
exact amount rounded once, and it goes up whenever that exact amount goes up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

from libs.tariffs.model import Cost
from libs.tariffs.money import HUNDRED, ZERO
from libs.tariffs.vat import incl_percent

# Quantities per priced unit: a FLAT fee counts 1 per session, ENERGY is priced per kWh and
# measured in Wh, TIME / PARKING_TIME per hour and measured in seconds.
PER_FEE, PER_KWH, PER_HOUR = 1, 1000, 3600
_COMMON = 18000  # lcm(1, 1000, 3600): every field is one numerator over one denominator
_DENOMINATOR = Decimal(100 * _COMMON)  # numerators carry prices x 100 (room for the VAT percent)
# Numerators are exact products of short decimals (price x (100 + VAT) x scale x quantity);
# 60 digits hold them, so the one division per field is the only inexact step before round4.
_EXACT = Context(prec=60)


@dataclass(frozen=True, eq=False, slots=True)
class Rate:
    """A price per unit with its VAT. Interned per tariff at compile time (compiled.py), so ledger
    keys hash and compare by identity."""

    per: int  # PER_FEE, PER_KWH or PER_HOUR
    excl: Decimal  # price per unit, excl. VAT
    vat: Decimal | None  # percent; None: no VAT applies (docs/tariffs.md "VAT")
    excl_n: Decimal  # excl x 100 x _COMMON / per: numerator per quantity unit, excl. VAT
    incl_n: Decimal  # excl x (100 + vat) x _COMMON / per: the same incl. VAT (exact)


def make_rate(per: int, price: Decimal, vat: Decimal | None) -> Rate:
    scale = _COMMON // per  # 18000 per fee, 18 per Wh, 5 per second: exact integers
    return Rate(per, price, vat, _EXACT.multiply(price, HUNDRED * scale),
                _EXACT.multiply(price, incl_percent(vat) * scale))


@dataclass(frozen=True, slots=True)
class Line:
    """`quantity` units (fee count, Wh or seconds) billed at `rate` in cost `category`."""

    category: str
    rate: Rate
    quantity: Decimal


class Ledger:
    __slots__ = ("_quantities",)

    def __init__(self) -> None:
        self._quantities: dict[tuple[str, Rate], Decimal] = {}

    def add(self, category: str, rate: Rate, quantity: Decimal) -> None:
        key = (category, rate)
        q = self._quantities.get(key)
        self._quantities[key] = quantity if q is None else q + quantity

    def lines(self) -> tuple[Line, ...]:
        return tuple(Line(c, r, q) for (c, r), q in self._quantities.items())

    def amounts(self) -> tuple[dict[str, Cost], Cost]:
        """Exact (unrounded) amounts: per category that had a component applied, and in total.
        Each side (excl. and incl. VAT) of each is one exact numerator divided once."""
        sums: dict[str, list[Decimal]] = {}
        for (category, r), q in self._quantities.items():
            n = sums.get(category)
            if n is None:
                sums[category] = [_EXACT.multiply(r.excl_n, q), _EXACT.multiply(r.incl_n, q)]
            else:  # fma: numerator + rate x quantity in one exact step
                n[0] = r.excl_n.fma(q, n[0], _EXACT)
                n[1] = r.incl_n.fma(q, n[1], _EXACT)
        div = _EXACT.divide
        per_category = {c: Cost(div(e, _DENOMINATOR), div(i, _DENOMINATOR)) for c, (e, i) in sums.items()}
        if len(sums) == 1:  # the usual energy-only session: its one category is the total
            return per_category, next(iter(per_category.values()))
        add = _EXACT.add
        excl = incl = ZERO
        for e, i in sums.values():
            excl, incl = add(excl, e), add(incl, i)
        return per_category, Cost(div(excl, _DENOMINATOR), div(incl, _DENOMINATOR))
