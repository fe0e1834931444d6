"""The rounding rule (docs/tariffs.md "Money"): every CDR amount is its exact value rounded once
to 4 decimals, half up. Regressions for the artifacts issue 7's property tests found.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs import Cost
from tests.unit.tariffs.support import local, price, session, tariff

D = Decimal
MON = "2024-03-04"


def test_step_excess_and_measured_time_are_one_exact_amount():
    # 8.74/h, 19 % VAT, step 900 s: 1 s or 2 s of charging both bill 900 s = 2.185, incl. VAT
    # exactly 2.60015 -> 2.6002 (half up). Priced slice by slice (2 s, then 898 s of step_size,
    # each divided by 3600 on its own) the sum came out a hair below 2.60015 and 2 s cost 2.6001.
    t = tariff([{"price_components": [{"type": "TIME", "price": 8.74, "vat": 19, "step_size": 900}]}])
    one = price(t, session(local(f"{MON} 10:00"), ("charging", 1 / 60)))
    two = price(t, session(local(f"{MON} 10:00"), ("charging", 2 / 60)))
    assert one.billed_time_s == two.billed_time_s == 900
    assert one.total == two.total == Cost(D("2.185"), D("2.6002"))


def test_total_is_the_exact_sum_rounded_not_the_sum_of_rounded_parts():
    # 1 s at 0.144/h = 0.00004 and 1 Wh at 0.04/kWh = 0.00004: each part rounds to 0.0000, the
    # session costs 0.00008 -> 0.0001: total_cost is a CDR field of its own, rounded once.
    t = tariff([{"price_components": [{"type": "TIME", "price": 0.144, "step_size": 1},
                                      {"type": "ENERGY", "price": 0.04, "step_size": 1}]}])
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 1 / 60, 0.001)))
    assert p.time == Cost(D("0"), D("0")) and p.energy == Cost(D("0"), D("0"))
    assert p.total == Cost(D("0.0001"), D("0.0001"))


def test_incl_vat_is_per_vat_rate_from_exact_excl_amounts():
    # One category, two VAT rates: 10 min at 0.30/h with 19 % (0.05 -> 0.0595) and 10 min at
    # 0.30/h with 7 % (0.05 -> 0.0535); time incl. VAT 0.113, excl. 0.10.
    t = tariff([
        {"price_components": [{"type": "TIME", "price": 0.30, "vat": 19, "step_size": 1}],
         "restrictions": {"end_time": "10:10"}},
        {"price_components": [{"type": "TIME", "price": 0.30, "vat": 7, "step_size": 1}]},
    ])
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 20, 1)))
    assert p.time == Cost(D("0.10"), D("0.113")) == p.total
    rates = sorted((line.rate.vat, line.quantity) for line in p.ledger.lines())
    assert rates == [(D(7), D(600)), (D(19), D(600))]
