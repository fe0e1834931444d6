"""step_size: how much of a unit is billed (docs/tariffs.md "step_size", the full reasoning).

mod_tariffs.asciidoc, PriceComponent.step_size: "Minimum amount to be billed. This unit will be
billed in this step_size blocks. Amounts that are less then this step_size are rounded up".
mod_cdrs.asciidoc, step_size (the passage the tariff module defers to: "For more information
about how step_size impacts the calculation of the cost of charging see: CDR object
description"):
- "step_size SHALL only be taken into account once per session for the TariffDimensionType ENERGY
  and once for PARKING_TIME and TIME combined."
- "The step_size uses the total amount of a certain unit used during a session, not only the
  last ChargingPeriod."
- "the step_size of the last relevant PriceComponent is used."
- "In the cases that TIME and PARKING_TIME Tariff Elements are both used, step_size is only taken
  into account for the total parking duration".

So, per group: take the session's total measured amount of the unit, round it up to the step of
the last price component that priced that unit, and bill the difference at that component's
price. For the time group the unit is parking time when any PARKING_TIME component priced the
session, else charging time.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs.money import ceil_to_step


def step_excess(measured: Decimal, step_size: int) -> Decimal:
    """The amount billed on top of `measured` because of step_size (never negative)."""
    return ceil_to_step(measured, step_size) - measured
