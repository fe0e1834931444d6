"""VAT per price component.

mod_tariffs.asciidoc, PriceComponent.vat: "Applicable VAT percentage for this tariff dimension. If
omitted, no VAT is applicable. Not providing a VAT is different from 0% VAT". So a component
without `vat` contributes the same amount excl. and incl. VAT (no VAT applies to it), and every
component's VAT is computed on its own amount: a session mixing 20 % (fee) and 10 % (energy)
components has both in its incl. VAT total.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs.money import HUNDRED, ONE


def vat_factor(vat_percent: Decimal | None) -> Decimal:
    """Multiplier from excl. to incl. VAT for one component."""
    return ONE if vat_percent is None else ONE + vat_percent / HUNDRED


def incl_vat(amount_excl: Decimal, vat_percent: Decimal | None) -> Decimal:
    return amount_excl * vat_factor(vat_percent)
