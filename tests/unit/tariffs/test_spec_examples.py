"""Every tariff example of OCPI 2.2.1 (ocpi/ocpi tag 2.2.1, examples/tariff_*.json and the
TariffRestrictions examples), priced with sessions built to the example's story.

Expected costs are derived by hand in each test from the example text (mod_tariffs.asciidoc,
"Examples") and the step_size rules of mod_cdrs.asciidoc; amounts are exact decimals rounded
once per category to 4 decimals (types.asciidoc: "numbers use 4 decimals"). Where the spec's prose
rounds to cents or contradicts the normative text, the test says so.
"""

from __future__ import annotations

from decimal import Decimal

from libs.tariffs import Cost
from tests.unit.tariffs.support import example, expired_reservation, local, price, session, tariff

D = Decimal
MON = "2024-03-04"  # a Monday
SAT = "2024-03-09"  # a Saturday


def cost(excl: str, incl: str) -> Cost:
    return Cost(D(excl), D(incl))


def test_tariff_1_simple_2_euro_per_hour():
    # "For a charging session of 2.5 hours, this tariff will result in costs of 5.00 euro (excl.
    # VAT) or 5.50 euro (incl. VAT)." 2.5 h x 2.00 = 5.00; x 1.10 = 5.50.
    t = example("tariff_1_simple_2hour.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 150, 11)))
    assert p.time == cost("5.00", "5.50") and p.total == cost("5.00", "5.50")
    assert p.energy is None  # no ENERGY component: energy is free
    # step_size 60 s: 61 s are billed as 120 s -> 2.00 * 120/3600 = 0.0666.. -> 0.0667; x1.1 = 0.0733
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 61 / 60, 0.2)))
    assert p.billed_time_s == 120 and p.total == cost("0.0667", "0.0733")


def test_tariff_1_parking_is_not_billed_with_only_a_time_component():
    # "As this is tariff only has a TIME price_component, the driver will not be billed for time
    # they are not charging: PARKING_TIME"
    t = example("tariff_1_simple_2hour.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 150, 11), ("idle", 60)))
    assert p.parking is None and p.total == cost("5.00", "5.50")
    assert p.total_parking_h == 1 and p.total_time_h == D("3.5")


def test_tariff_2_alt_text_1_9_per_hour():
    # "For a charging session of 2.5 hours ... 4.75 euro (excl. VAT) or 5.00 euro (incl. VAT)."
    # 2.5 x 1.90 = 4.75; incl 4.75 x 1.052 = 4.997 (the prose shows it to the cent: 5.00).
    t = example("tariff_2_alt_text.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 150, 11)))
    assert p.total == cost("4.75", "4.997")


def test_tariff_3_alt_url_energy_step_100_wh():
    # "For a charging session where 20.45 kWh are charged ... the driver has to pay for 20.5 kWh"
    # energy 20.5 x 0.25 = 5.125 (prose: 5.13), incl x1.10 = 5.6375 (prose: 5.64);
    # start fee 0.50 / 0.60; total 5.625 / 6.2375 (prose, to the cent: 5.63 / 6.24).
    t = example("tariff_3_alt_url.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20.45)))
    assert p.billed_energy_wh == 20500
    assert p.energy == cost("5.125", "5.6375") and p.fixed == cost("0.50", "0.60")
    assert p.total == cost("5.625", "6.2375")


def test_tariff_4_complex_monday_morning():
    # "a charging session on a Monday morning starting at 09:30 which takes 2:45 hours (165
    # minutes), where the driver uses a maximum of 16A ... parking for additional 42 minutes":
    # start fee 2.50 (15 %: 2.875); 165 min at 1.00/h (< 32A element) = 2.75 (20 %: 3.30), no
    # step_size on charging as parking follows (mod_cdrs step_size); parking 12:15-12:57 on a
    # weekday between 09:00 and 18:00: 42 min -> 45 min (step 300) x 5.00/h = 3.75 (10 %: 4.125).
    # "9.00 euro (excl. VAT) or 10.30 euro (incl. VAT)".
    t = example("tariff_4_complex.json")
    s = session(local(f"{MON} 09:30"), ("charging", 165, 30, {"max_current_a": 16, "min_current_a": 10}),
                ("idle", 42))
    p = price(t, s)
    assert p.fixed == cost("2.50", "2.875")
    assert p.time == cost("2.75", "3.30")
    assert p.parking == cost("3.75", "4.125")
    assert p.total == cost("9.00", "10.30")
    assert p.periods[0].elements == {"FLAT": 0, "TIME": 1}  # the < 32A element
    assert p.periods[1].elements == {"PARKING_TIME": 4}


def test_tariff_4_complex_saturday_afternoon():
    # "a Saturday afternoon starting at 13:30 which takes 1:54 hours (114 minutes), where the
    # driver uses a minimum of 43A ... parking for additional 71 minutes": 114 min at 1.25/h
    # (>= 32A, weekend element) = 2.375 (x1.2 = 2.85); parking 15:24-16:35 inside Saturday
    # 10:00-17:00: 71 -> 75 min x 6.00/h = 7.50 (x1.1 = 8.25); start fee 2.50 / 2.875.
    # "12.375 euro (excl. VAT) or 13.975 euro (incl. VAT)".
    t = example("tariff_4_complex.json")
    s = session(local(f"{SAT} 13:30"), ("charging", 114, 60, {"min_current_a": 43, "max_current_a": 43}),
                ("idle", 71))
    p = price(t, s)
    assert p.time == cost("2.375", "2.85") and p.parking == cost("7.50", "8.25")
    assert p.total == cost("12.375", "13.975")
    assert p.billed_time_s == 75 * 60 and p.time_step_dimension == "PARKING_TIME"


def test_tariff_4_complex_parking_outside_the_windows_is_free():
    # Parking on a Sunday matches no PARKING_TIME element: "there will be no costs for that
    # Tariff Dimension". Charging 60 min at 16A: 1.00; start fee 2.50.
    t = example("tariff_4_complex.json")
    s = session(local("2024-03-10 12:00"), ("charging", 60, 7, {"max_current_a": 16}), ("idle", 30))
    p = price(t, s)
    assert p.parking is None and p.total == cost("3.50", "4.075")  # 2.875 + 1.20


def test_tariff_5_free_of_charge():
    # "To define a "Free of Charge" tariff in OCPI, a Tariff with type = FLAT and price = 0.00"
    t = example("tariff_5_free_of_charge.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 90, 30), ("idle", 30)))
    assert p.fixed == cost("0", "0") and p.total == cost("0", "0")


def test_tariff_6_start_fee_and_max_price():
    # "For a charging session where 50 kWh are charged, this tariff will result in costs of 10.00
    # euro (excl. VAT) or 11.00 euro (incl. VAT) due to the price limit": 0.50 + 50 x 0.25 = 13.00
    # excl; 0.60 + 13.75 = 14.35 incl; capped at max_price 10.00 / 11.00.
    t = example("tariff_6_025kwh_start_max_price.json")
    p = price(t, session(local("2019-05-06 10:00"), ("charging", 300, 50)))
    assert p.subtotal == cost("13.00", "14.35")
    assert p.total == cost("10.00", "11.00") and p.limited_by == "max_price"
    # "If only 30 kWh were charged, the costs would be 8.00 euro (excl. VAT) and 8.85 euro".
    p = price(t, session(local("2019-05-06 10:00"), ("charging", 180, 30)))
    assert p.total == cost("8.00", "8.85") and p.limited_by is None


def test_tariff_6_end_date_time():
    # end_date_time "The time after which this tariff is no longer valid": 2019-06-30T23:59:59Z.
    t = example("tariff_6_025kwh_start_max_price.json")
    assert t.valid_at(local("2019-06-30 23:59:59", "UTC"))
    assert not t.valid_at(local("2019-07-01 00:00:00", "UTC"))


def test_tariff_7_first_kwh_free_parking_by_session_duration():
    # Energy: max_kwh 1.0 (exclusive) is free, min_kwh 1.0 (inclusive) at 0.20: "Energy: 19 kWh
    # (first kWh is free) = 3.80 euro". Parking: min_/max_duration are "the duration the Charging
    # Session MUST last" (TariffRestrictions), counted from the session start. Session: 20 kWh
    # in 2 h, then parked 2:45 (elapsed 2:00-4:45): 2:00-3:00 at 2.00/h = 2.00, 3:00-4:45 at
    # 3.00/h = 5.25. Total 3.80 + 7.25 = 11.05. No VAT given: incl. VAT = excl. (docs/tariffs.md).
    # (The prose's 7.30 counts parking hours from the end of charging; see docs/tariffs.md.)
    t = example("tariff_7_first_hour_kwh_free.json")
    p = price(t, session(local(f"{MON} 08:00"), ("charging", 120, 20), ("idle", 165)))
    assert p.energy == cost("3.80", "3.80")
    assert p.parking == cost("7.25", "7.25")
    assert p.total == cost("11.05", "11.05")
    # The 1 kWh boundary cuts the charging period: 0.1 h at 10 kW reaches 1 kWh at 08:06.
    first, second = p.periods[0], p.periods[1]
    assert first.energy_wh == 1000 and first.elements["ENERGY"] == 3 and second.elements["ENERGY"] == 4
    assert second.start == local(f"{MON} 08:06")


def test_tariff_7_short_charge_reaches_free_first_hour():
    # 20 kWh in 30 min, parked 2:45 (elapsed 0:30-3:15): 0:30-1:00 free, 1:00-3:00 2.00/h = 4.00,
    # 3:00-3:15 3.00/h = 0.75; energy 3.80. Total 8.55.
    t = example("tariff_7_first_hour_kwh_free.json")
    p = price(t, session(local(f"{MON} 08:00"), ("charging", 30, 20), ("idle", 165)))
    assert p.parking == cost("4.75", "4.75") and p.total == cost("8.55", "8.55")


def test_tariff_8_simple_energy():
    # "costs of 5.00 euro (excl. VAT) or 5.50 euro (incl. VAT) when 20 kWh are charged."
    t = example("tariff_8_simple_025kwh.json")
    assert price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20))).total == cost("5.00", "5.50")


def test_price_component_step_size_note_energy():
    # PriceComponent note: "If someone charges their EV with 115.2 Wh, then they are billed for
    # 116 Wh, resulting in total cost of 0.029 euro. When step_size = 25, then the same amount
    # would be billed for 101 to 125 Wh: 0.031 euro. When step_size = 500 ... 0.125 euro."
    # 116 x 0.25/1000 = 0.029; 125 x 0.25/1000 = 0.03125 -> 0.0313 (prose: 0.031); 0.125.
    for step, billed, excl in ((1, 116, "0.029"), (25, 125, "0.0313"), (500, 500, "0.125")):
        t = tariff([{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": step}]}])
        p = price(t, session(local(f"{MON} 10:00"), ("charging", 1, 0.1152)))
        assert p.billed_energy_wh == billed and p.total.excl_vat == D(excl)


def test_tariff_9_start_fee():
    # "total cost of 5.50 euro (excl. VAT) or 6.10 euro (incl. VAT) when 20 kWh are charged":
    # 0.50 + 5.00 = 5.50; 0.60 + 5.50 = 6.10.
    t = example("tariff_9_025kwh_start.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20)))
    assert p.fixed == cost("0.50", "0.60") and p.total == cost("5.50", "6.10")


def test_tariff_10_parking_and_start_fee():
    # "20 kWh are charged and the vehicle is parked for 40 minutes ... 7.00 euro (excl. VAT) or
    # 7.90 euro (incl. VAT) ... has to pay for 45 minutes of parking": 0.50 + 5.00 + 0.75 x 2.00.
    t = example("tariff_10_025kwh_parking_start.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20), ("idle", 40)))
    assert p.parking == cost("1.50", "1.80") and p.total == cost("7.00", "7.90")


def test_tariff_11_not_possible_alt_text():
    # No figures in the text: start fee 0.40 (25 %: 0.50), 2.5 h x 1.90 = 4.75 (5.2 %: 4.997).
    t = example("tariff_11_not_possible_alt_text.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 150, 11)))
    assert p.fixed == cost("0.40", "0.50") and p.total == cost("5.15", "5.497")


def test_tariff_12_min_price():
    # "costs of 5.00 euro (excl. VAT) or 5.50 euro (incl. VAT) when 20 kWh are charged. But if
    # less than 2 kWh is charged, 0.50 euro (excl. VAT) or 0.55 euro (incl. VAT) will be billed."
    t = example("tariff_12_025kwh_min_price.json")
    assert price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20))).total == cost("5.00", "5.50")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 10, 1)))
    assert p.subtotal == cost("0.25", "0.275") and p.total == cost("0.50", "0.55")
    assert p.limited_by == "min_price"


def test_tariff_13_time_and_parking():
    # "A charging session of 2.5 hours (charging), where the vehicle is parked for 42 more
    # minutes ... 11.25 euro (excl. VAT) or 12.75 euro (incl. VAT)": 2.5 x 3.00 = 7.50 (8.25);
    # 45 min x 5.00 = 3.75 (4.50).
    t = example("tariff_13_simple_3hour_5parking.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 150, 30), ("idle", 42)))
    assert p.time == cost("7.50", "8.25") and p.parking == cost("3.75", "4.50")
    assert p.total == cost("11.25", "12.75")


def test_tariff_14_step_size_switching_element_2():
    # "plugs in at 16:35 and charges for 35 minutes": 25 min x 1.20/h = 0.50; total TIME 35 min
    # rounded to 45 by the last component's step 900, so 20 min after 17:00 x 2.40/h = 0.80.
    # "The total for this charging session is therefore 1.30 euro (excl. VAT)."
    t = example("tariff_14_step_size.json")
    p = price(t, session(local(f"{MON} 16:35"), ("charging", 35, 5)))
    assert p.billed_time_s == 45 * 60 and p.total == cost("1.30", "1.30")


def test_tariff_14_step_size_switching_to_free_parking():
    # 19:40 charge 12 min (0.48 at 2.40/h), park 19:52-20:12; parking after 20:00 has no element.
    # Parking total 20 min rounded by the last PARKING_TIME component used (step 900) to 30 min:
    # 8 paid + 10 more minutes at 1.00/h = 18 min = 0.30. "total ... 0.78 euro (excl. VAT)".
    t = example("tariff_14_step_size.json")
    p = price(t, session(local(f"{MON} 19:40"), ("charging", 12, 2), ("idle", 20)))
    assert p.time == cost("0.48", "0.48") and p.parking == cost("0.30", "0.30")
    assert p.total == cost("0.78", "0.78")


def test_tariff_14_step_size_switching_element_1_follows_mod_cdrs():
    # 16:55 charge 10 min (5 min x 1.20/h = 0.10, 5 min x 2.40/h = 0.20), park 2 min.
    # mod_cdrs.asciidoc, step_size: "In the cases that TIME and PARKING_TIME Tariff Elements are
    # both used, step_size is only taken into account for the total parking duration" -> parking
    # 2 min -> 15 min x 1.00/h = 0.25; total 0.55. The tariff module's prose (0.383, rounding the
    # 12-minute session total) contradicts that passage and its own complex example (71 -> 75 min
    # of parking after 114 min of charging); docs/tariffs.md records the choice.
    t = example("tariff_14_step_size.json")
    p = price(t, session(local(f"{MON} 16:55"), ("charging", 10, 2), ("idle", 2)))
    assert p.time == cost("0.30", "0.30") and p.parking == cost("0.25", "0.25")
    assert p.total == cost("0.55", "0.55")


def test_mod_cdrs_step_size_examples():
    # "step_size for both charging (TIME) and parking is 5 minutes. After 21 minutes of charging,
    # the EV is full but remains connected for 7 more minutes. The cost of charging will be
    # calculated based on 21 minutes (not 25). The cost of parking ... on 10 minutes".
    t = tariff([{"price_components": [{"type": "TIME", "price": 1.0, "step_size": 300},
                                      {"type": "PARKING_TIME", "price": 2.0, "step_size": 300}]}])
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 21, 3), ("idle", 7)))
    assert p.time.excl_vat == D("0.35") and p.billed_time_s == 600  # 21/60; parking 10 min
    assert p.parking.excl_vat == D("0.3333")
    # "both have a step_size of 10 minutes. If a driver charges 21 minutes, and keeps his EV
    # connected ... another 16 minutes. The step_size rounds the parking duration up to 20".
    t = tariff([{"price_components": [{"type": "TIME", "price": 1.0, "step_size": 600},
                                      {"type": "PARKING_TIME", "price": 2.0, "step_size": 600}]}])
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 21, 3), ("idle", 16)))
    assert p.time.excl_vat == D("0.35") and p.parking.excl_vat == D("0.6667")
    # "Charging cost 5 euro/hour before 17:00 and 7 euro/hour after 17:00 both have a step_size of
    # 10 minutes ... 6 minutes before 17:00 and 22 minutes after ... 24 minutes after 17:00 will
    # be billed": 6/60 x 5 + 24/60 x 7 = 0.50 + 2.80.
    t = tariff([
        {"price_components": [{"type": "TIME", "price": 5.0, "step_size": 600}],
         "restrictions": {"end_time": "17:00"}},
        {"price_components": [{"type": "TIME", "price": 7.0, "step_size": 600}]},
    ])
    assert price(t, session(local(f"{MON} 16:54"), ("charging", 28, 3))).total.excl_vat == D("3.30")
    # "0.20 euro/Wh [per kWh] before 17:00 and 0.27 after 17:00 both have a step_size of 500 Wh
    # ... 4.3 kWh before 17:00 and 1.1 kWh after 17:00 ... rounds this up to 5.5 kWh total":
    # 4.3 x 0.20 + 1.2 x 0.27 = 0.86 + 0.324.
    t = tariff([
        {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 500}],
         "restrictions": {"end_time": "17:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.27, "step_size": 500}]},
    ])
    p = price(t, session(local(f"{MON} 16:00"), ("charging", 60, 4.3), ("charging", 30, 1.1)))
    assert p.billed_energy_wh == 5500 and p.total.excl_vat == D("1.184")


def test_tariff_15_reservation_per_hour():
    # "started 15 minutes after the reservation time, where the driver charges 20 kWh ... 6.75
    # euro (excl. VAT) or 7.60 euro (incl. VAT)": start fee 0.50/0.60, energy 5.00/5.50,
    # reservation 0.25 h x 5.00 = 1.25 / 1.50.
    t = example("tariff_15_reservation_5_euro_per_hour.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20), reservation=(15, False)))
    assert p.reservation == cost("1.25", "1.50") and p.fixed == cost("0.50", "0.60")
    assert p.total == cost("6.75", "7.60")
    assert p.periods[0].state is None and p.periods[0].duration_s == 900


def test_tariff_16_reservation_fee_and_per_hour():
    # "started 13 minutes after the reservation time ... 8.75 euro (excl. VAT) or 10.00 euro
    # (incl. VAT) ... has to pay for 15 minutes of reservation": fee 2.00 (2.40), 15 min x 5.00/h
    # = 1.25 (1.50), start fee 0.50 (0.60), energy 5.00 (5.50). (The breakdown's "2.00 incl.
    # VAT" for the fee is a typo: the 10.00 total needs 2.40.)
    t = example("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20), reservation=(13, False)))
    assert p.reservation == cost("3.25", "3.90") and p.total == cost("8.75", "10.00")


def test_tariff_17_reservation_with_expire_fee():
    # "started 22 minutes after the reservation time ... 6.50 euro (excl. VAT) or 7.30 euro
    # (incl. VAT)": 30 min (step 600) x 2.00/h = 1.00 (1.20) + 0.50 (0.60) + 5.00 (5.50).
    t = example("tariff_17_reservation_with_expire_fee.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20), reservation=(22, False)))
    assert p.total == cost("6.50", "7.30")
    # "If the driver did not start a charging session and the reservation expired after the
    # reserved time of 1 hour ... 6.00 euro (excl. VAT) or 7.20 euro (incl. VAT)": expiry fee
    # 4.00 + 1 h x 2.00; no start fee (no session).
    p = price(t, expired_reservation(local(f"{MON} 10:00"), 60))
    assert p.reservation == cost("6.00", "7.20") and p.fixed is None and p.total == cost("6.00", "7.20")


def test_tariff_18_reservation_with_expire_time():
    # Used after 22 minutes: 30 min x 3.00/h = 1.50 (1.80) + 0.50 (0.60) + 5.00 (5.50) = "7.00
    # euro (excl. VAT) or 7.90 euro (incl. VAT)". Expired after 1.5 h: the RESERVATION_EXPIRES
    # element comes first: 1.5 h x 6.00 = "9.00 euro (excl. VAT) or 10.80 euro (incl. VAT)".
    t = example("tariff_18_reservation_with_expire_time.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 120, 20), reservation=(22, False)))
    assert p.total == cost("7.00", "7.90")
    assert price(t, expired_reservation(local(f"{MON} 10:00"), 90)).total == cost("9.00", "10.80")


def test_tariff_put_example_2_euro_per_hour_step_5_minutes():
    # tariff_put_example.json lacks last_updated (cardinality 1): added to parse it.
    # 61 min -> 65 min (step 300) x 2.00/h = 2.1666.. -> 2.1667; incl x1.1 = 2.38333 -> 2.3833.
    t = example("tariff_put_example.json", last_updated="2024-01-01T00:00:00Z")
    assert price(t, session(local(f"{MON} 10:00"), ("charging", 61, 5))).total == cost("2.1667", "2.3833")


def test_restriction_example_max_power():
    # "the EV charges the first kWh with a power of 6 kW, increases the power to 48 kW for the
    # next 40 kWh and reduces it again to 4 kW after that for another 0.5 kWh ... 20.30 euro":
    # 1 x 0.20 + 40 x 0.50 + 0.5 x 0.20 = 20.30; incl x1.2 = 24.36.
    t = example("tariffrestriction_example_max_power.json")
    s = session(local(f"{MON} 10:00"),
                ("charging", 10, 1, {"max_power_kw": 6, "min_power_kw": 6}),
                ("charging", 50, 40, {"max_power_kw": 48, "min_power_kw": 48}),
                ("charging", 7.5, 0.5, {"max_power_kw": 4, "min_power_kw": 4}))
    p = price(t, s)
    assert p.total == cost("20.30", "24.36")
    assert [x.elements["ENERGY"] for x in p.periods] == [0, 2, 0]
    # 20 kW (between 16 and 32) -> the second element, 0.35/kWh: 10 kWh = 3.50.
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 30, 10)))  # average power 20 kW
    assert p.total.excl_vat == D("3.50")


def test_restriction_example_max_duration():
    # "a duration of 40 minutes where 5 kWh are charged during the first 30 minutes and another
    # 1.2 kWh in the remaining 10 minutes ... 0.30 euro (excl. VAT)": 5 free + 1.2 x 0.25.
    t = example("tariffrestriction_example_max_duration.json")
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 30, 5), ("charging", 10, 1.2)))
    assert p.total == cost("0.30", "0.36")
    # One even segment of 6.2 kWh over 40 min is cut at 30 min: 4.65 free, 1.55 x 0.25 = 0.3875.
    p = price(t, session(local(f"{MON} 10:00"), ("charging", 40, 6.2)))
    assert p.total.excl_vat == D("0.3875") and len(p.periods) == 2
