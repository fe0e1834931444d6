"""Where OCPI 2.2.1 itself makes a session cost less with more energy or time (docs/tariffs.md
"Monotonicity"): one instance of each, priced by hand. test_properties.py leaves exactly these
tariffs out of its "never costs less" properties.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs import Cost
from tests.unit.tariffs.support import example, local, price, session, tariff

D = Decimal
MON = "2024-03-04"


def cost(excl: str) -> Cost:
    return Cost(D(excl), D(excl))  # no VAT in these tariffs: incl. = excl.


def test_1_energy_added_below_the_last_price_shrinks_the_step_excess():
    # mod_cdrs.asciidoc, step_size, its own tariff: 0.20/kWh before 17:00, 0.27 after, both step
    # 500 Wh. 4.3 + 1.1 kWh: total 5.4 -> 5.5, the excess at the last component's price:
    # 4.3 x 0.20 + 1.2 x 0.27 = 1.184. With 0.1 kWh more before 17:00 the total is 5.5, no
    # excess: 4.4 x 0.20 + 1.1 x 0.27 = 0.88 + 0.297 = 1.177.
    t = tariff([
        {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 500}],
         "restrictions": {"end_time": "17:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.27, "step_size": 500}]},
    ])
    less = price(t, session(local(f"{MON} 16:00"), ("charging", 60, 4.3), ("charging", 30, 1.1)))
    more = price(t, session(local(f"{MON} 16:00"), ("charging", 60, 4.4), ("charging", 30, 1.1)))
    assert less.total == cost("1.184") and more.total == cost("1.177")


def test_1_free_energy_shrinks_the_step_excess():
    # ENERGY only until 17:00 (step 1000 Wh); after it no element prices energy. 0.5 kWh before +
    # 0.2 after: total 0.7 -> 1.0 kWh, excess 0.3 at 0.25: (0.5 + 0.3) x 0.25 = 0.20. With 0.5
    # after: total 1.0, no excess: 0.5 x 0.25 = 0.125.
    t = tariff([{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1000}],
                 "restrictions": {"end_time": "17:00"}}])
    less = price(t, session(local(f"{MON} 16:30"), ("charging", 30, 0.5), ("charging", 30, 0.2)))
    more = price(t, session(local(f"{MON} 16:30"), ("charging", 30, 0.5), ("charging", 30, 0.5)))
    assert less.total == cost("0.20") and more.total == cost("0.125")


def test_2_more_time_changes_the_last_time_component():
    # 10.00/h with a 1 h step until 10:29, then a free element (step 1 s). 28 min: all at the
    # first element, rounded to 1 h: 10.00. 2 min more: 29 min at 10.00/h, 1 min free, and the
    # "last relevant PriceComponent" is the free one: 29/60 x 10.00 = 4.8333.
    t = tariff([
        {"price_components": [{"type": "TIME", "price": 10.00, "step_size": 3600}],
         "restrictions": {"end_time": "10:29"}},
        {"price_components": [{"type": "TIME", "price": 0.00, "step_size": 1}]},
    ])
    less = price(t, session(local(f"{MON} 10:00"), ("charging", 28, 1)))
    more = price(t, session(local(f"{MON} 10:00"), ("charging", 28, 1), ("suspended", 2)))
    assert less.total == cost("10.00") and more.total == cost("4.8333")


def test_3_free_parking_shrinks_the_step_excess():
    # Tariff example 14, "parking becomes free after 20:00": 19:40 charge 12 min (0.48), park 20
    # min: parking total 20 -> 30 min (step 900), 8 paid + 10 = 18 min x 1.00/h = 0.30; 0.78 as
    # the example says. Parked 30 min: total 30, no excess, 8 min = 0.1333; 0.6133.
    t = example("tariff_14_step_size.json")
    less = price(t, session(local(f"{MON} 19:40"), ("charging", 12, 2), ("idle", 20)))
    more = price(t, session(local(f"{MON} 19:40"), ("charging", 12, 2), ("idle", 30)))
    assert less.total == cost("0.78") and more.total == cost("0.6133")


def test_4_parking_priced_for_the_first_time_moves_the_step_to_parking():
    # TIME 1.00/h step 1 h; PARKING_TIME 1.00/h step 60 s from 11:00. Charge 10 min, park
    # 10:10-10:50: no PARKING_TIME component used, the step rounds charging time: 1 h = 1.00.
    # Park until 11:01: both used, "step_size is only taken into account for the total parking
    # duration" (mod_cdrs): 10 min charging = 0.1667, 51 min parking (a whole number of minutes,
    # no excess) of which 1 min priced = 0.0167; 0.1833.
    t = tariff([
        {"price_components": [{"type": "TIME", "price": 1.00, "step_size": 3600}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 1.00, "step_size": 60}],
         "restrictions": {"start_time": "11:00"}},
    ])
    less = price(t, session(local(f"{MON} 10:00"), ("charging", 10, 1), ("idle", 40)))
    more = price(t, session(local(f"{MON} 10:00"), ("charging", 10, 1), ("idle", 51)))
    assert less.total == cost("1.00") and less.time_step_dimension == "TIME"
    assert more.total == cost("0.1833") and more.time_step_dimension == "PARKING_TIME"


def test_5_more_energy_by_charging_longer_and_parking_less():
    # Charging time 1.00/h, parking 5.00/h, within the same hour: 30 min charging + 30 parked
    # = 0.50 + 2.50 = 3.00; charging 40 min (more energy) + 20 parked = 0.6667 + 1.6667 = 2.3333.
    t = tariff([{"price_components": [{"type": "TIME", "price": 1.00, "step_size": 1},
                                      {"type": "PARKING_TIME", "price": 5.00, "step_size": 1}]}])
    less = price(t, session(local(f"{MON} 10:00"), ("charging", 30, 5), ("idle", 30)))
    more = price(t, session(local(f"{MON} 10:00"), ("charging", 40, 7), ("idle", 20)))
    assert less.total == cost("3.00") and more.total == cost("2.3333")
