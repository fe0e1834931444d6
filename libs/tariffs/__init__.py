"""Pure OCPI 2.2.1 tariff engine: (tariff, charging session) -> priced CDR. No I/O.

One concept per module (docs/tariffs.md explains every decision with the spec passage):
- `money`: Decimal arithmetic and the one rounding rule (once per CDR field, from exact amounts).
- `model`: the engine's input (segments of a session) and output (priced periods, costs).
- `compiled`: a Tariff turned into per-dimension lookup lists, compiled once per tariff version.
- `restrictions`: is a TariffElement active at one moment?
- `splitting`: cut the session at every moment a restriction can change, in the location's time zone.
- `step_size`: the once-per-session step_size rounding.
- `vat`: VAT per price component.
- `ledger`: what was billed (quantity per category and rate); exact amounts per CDR field.
- `limits`: min_price / max_price.
- `engine`: puts them together.
- `selection`: which of a connector's tariffs applies to a session.
- `session_input`: a `ChargingSession` event as engine input.
- `cdr`: the OCPI 2.2.1 CDR (and credit CDR) assembly.
"""

from libs.tariffs.compiled import CompiledTariff, compile_tariff
from libs.tariffs.engine import price_session
from libs.tariffs.model import (
    Cost,
    ImpossibleSession,
    PricedPeriod,
    PricedSession,
    Reservation,
    Segment,
    SegmentState,
    SessionInput,
)

__all__ = [
    "CompiledTariff",
    "Cost",
    "ImpossibleSession",
    "PricedPeriod",
    "PricedSession",
    "Reservation",
    "Segment",
    "SegmentState",
    "SessionInput",
    "compile_tariff",
    "price_session",
]
