"""VAT per price component.

mod_tariffs.asciidoc, PriceComponent.vat: "Applicable VAT percentage for this tariff dimension. If
omitted, no VAT is applicable. Not providing a VAT is different from 0% VAT". So a component
without `vat` contributes the same amount excl. and incl. VAT (no VAT applies to it), and every
component's VAT is computed on its own amount: a session mixing 20 % (fee) and 10 % (energy)
components has both in its incl. VAT total. The ledger (ledger.py) keeps the exact excl. VAT
quantity per rate and applies each rate's VAT to it once, when the CDR amounts are formed.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs.money import HUNDRED


def incl_percent(vat_percent: Decimal | None) -> Decimal:
    """What 100 excl. VAT of one component become incl. VAT (exact: 100 + vat, or 100)."""
    return HUNDRED if vat_percent is None else HUNDRED + vat_percent
