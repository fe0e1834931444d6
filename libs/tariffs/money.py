"""Money and quantities as Decimal, and the one rounding rule.

OCPI 2.2.1 types.asciidoc, number type: "Unless mentioned otherwise, numbers use 4 decimals".
Every amount is computed exactly (ledger.py: quantities per rate, one division per field); each
CDR amount field (total_cost and each category, excl. and incl. VAT) is that exact amount rounded
once to 4 decimals, half up. Rounding is monotone, so a field never falls while its exact amount
rises; the rounded parts may differ from the rounded total in the last decimal.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
SECONDS_PER_HOUR = Decimal(3600)
WH_PER_KWH = Decimal(1000)
QUANTUM = Decimal("0.0001")  # 4 decimals


def dec(value: float | int | str | Decimal) -> Decimal:
    """Exact Decimal of a number as written (floats by their shortest repr: 0.1 -> 0.1)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def round4(value: Decimal) -> Decimal:
    """The one rounding rule: 4 decimals, half up (away from zero on .00005)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def seconds(delta: timedelta) -> Decimal:
    """Exact seconds of a timedelta (microsecond precision)."""
    whole = delta.days * 86400 + delta.seconds
    if not delta.microseconds:  # the usual case, and the engine's hot path: no division
        return Decimal(whole)
    return Decimal(whole * 1_000_000 + delta.microseconds).scaleb(-6)


def ceil_to_step(amount: Decimal, step: int) -> Decimal:
    """`amount` rounded up to a whole number of `step`s (step <= 0: no rounding)."""
    if step <= 0 or amount <= 0:
        return amount
    blocks = (amount / step).to_integral_value(rounding=ROUND_CEILING)
    return blocks * step
