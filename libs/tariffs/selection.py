"""Which of a connector's tariffs prices a session.

mod_tariffs.asciidoc, Tariff.start_date_time/end_date_time notes: "a driver accepts the tariff
which is valid when they start their charging session". TariffType: REGULAR is "valid when using
an RFID, without any Charging Preference"; "When omitted, this tariff is valid for all sessions";
AD_HOC_PAYMENT "when ad-hoc payment is used". Sessions carry no charging preference, so the
PROFILE_* tariffs are never chosen.

Rule: among the connector's tariff_ids, in their order, the first tariff valid at the session's
start whose type fits the token: AD_HOC_USER tokens prefer AD_HOC_PAYMENT tariffs, every token
accepts REGULAR and untyped tariffs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from libs.ocpi.types import TariffType
from libs.tariffs.compiled import CompiledTariff


def select_tariff(
    candidates: Sequence[CompiledTariff], starts_at: datetime, token_type: str | None = None
) -> CompiledTariff | None:
    valid = [t for t in candidates if t.valid_at(starts_at)]
    tiers: list[set[TariffType | None]] = [{None, TariffType.REGULAR}]
    if token_type == "AD_HOC_USER":
        tiers.insert(0, {TariffType.AD_HOC_PAYMENT})
    for accepted in tiers:
        for t in valid:
            if t.tariff.type in accepted:
                return t
    return None
