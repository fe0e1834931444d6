"""min_price / max_price (mod_tariffs.asciidoc, Tariff object and its notes).

"min_price: ... when the cost of a Charging Session is lower than this amount, the cost of the
Session will be equal to this amount." "max_price: ... will NOT cost more than this amount."
"So as a rule, they both apply: The total cost of a Charging Session excluding VAT can never be
lower than the min_price excluding VAT. The total cost ... including VAT can never be lower than
the min_price including VAT." (and the same for max_price).

Each bound applies to its own side; a bound without incl_vat limits only the excl. VAT total.
Should min and max contradict each other, max_price wins (the driver is never billed more than
announced). Only the total is limited; the CDR's per-category costs stay what was consumed.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs.model import Cost

Bound = tuple[Decimal, Decimal | None] | None


def apply_limits(subtotal: Cost, min_price: Bound, max_price: Bound) -> tuple[Cost, str | None]:
    excl, incl = subtotal.excl_vat, subtotal.incl_vat
    if min_price is not None:
        excl = max(excl, min_price[0])
        if min_price[1] is not None:
            incl = max(incl, min_price[1])
    if max_price is not None:
        excl = min(excl, max_price[0])
        if max_price[1] is not None:
            incl = min(incl, max_price[1])
    total = Cost(excl, incl)
    if total == subtotal:
        return total, None
    capped = max_price is not None and (excl < subtotal.excl_vat or incl < subtotal.incl_vat)
    return total, "max_price" if capped else "min_price"
