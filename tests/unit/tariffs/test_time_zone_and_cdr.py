"""Restrictions in the Location's time zone (incl. across midnight and DST), impossible data,
tariff selection and the CDR / credit CDR shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from libs.catalog.loader import load_catalog
from libs.events.sessions import ChargingSession
from libs.ocpi.models import CDR
from libs.tariffs import ImpossibleSession, Segment, SegmentState, SessionInput, compile_tariff, price_session
from libs.tariffs.cdr import build_cdr, cdr_id, credit_cdr
from libs.tariffs.selection import select_tariff
from libs.tariffs.session_input import session_input
from tests.unit.tariffs.support import local, price, session, tariff

D = Decimal
CATALOG = load_catalog(Path(__file__).parents[3] / "examples" / "catalog.yaml")
DC = compile_tariff(next(t for t in CATALOG.tariffs if t.id == "DC-TIME-OF-DAY"))


def test_time_of_day_across_midnight():
    # DC-TIME-OF-DAY: 0.59/kWh 07:00-22:00, 0.49/kWh 22:00-07:00 (end < start: "wraps around to
    # the next day"), FLAT 1.00, all 19 % VAT. 21:30-22:30 local, 10 kWh evenly: 5 x 0.59 + 5 x
    # 0.49 = 5.40, + 1.00 = 6.40; incl x1.19 = 7.616.
    p = price(DC, session(local("2024-03-04 21:30"), ("charging", 60, 10)))
    assert p.total.excl_vat == D("6.40") and p.total.incl_vat == D("7.616")
    assert [x.start for x in p.periods] == [local("2024-03-04 21:30"), local("2024-03-04 22:00")]
    # 06:30-07:30 the next morning: the night element still matches after midnight.
    p = price(DC, session(local("2024-03-05 06:30"), ("charging", 60, 10)))
    assert p.total.excl_vat == D("6.40")


def test_restrictions_follow_dst_in_the_location_time_zone():
    # 2024-03-31 Europe/Berlin switches to CEST at 02:00: 07:00 local is 05:00 UTC (not 06:00).
    # 04:30-05:30 UTC with 10 kWh: 5 kWh night + 5 kWh day = 5.40 + 1.00.
    start = datetime(2024, 3, 31, 4, 30, tzinfo=UTC)
    s = SessionInput(start, start + timedelta(hours=1), "Europe/Berlin",
                     (Segment(start, start + timedelta(hours=1), SegmentState.CHARGING, D(10000)),))
    p = price_session(DC, s)
    assert p.periods[1].start == datetime(2024, 3, 31, 5, 0, tzinfo=UTC)
    assert p.total.excl_vat == D("6.40")
    # The same instant in another zone is all night there (New York: 00:30-01:30 local).
    p = price_session(DC, SessionInput(start, s.end, "America/New_York", s.segments))
    assert p.total.excl_vat == D("5.90")  # 10 x 0.49 + 1.00


def test_day_of_week_and_dates_are_local():
    t = tariff([
        {"price_components": [{"type": "ENERGY", "price": 1.0, "step_size": 1}],
         "restrictions": {"day_of_week": ["SUNDAY"], "start_date": "2024-03-01", "end_date": "2024-04-01"}},
        {"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]},
    ])
    # Sunday 2024-03-10 00:30 Berlin is Saturday 23:30 UTC: local Sunday, the first element.
    assert price(t, session(local("2024-03-10 00:30"), ("charging", 30, 2))).total.excl_vat == D("2")
    # Sunday 2024-04-07 is past end_date (exclusive): the fallback.
    assert price(t, session(local("2024-04-07 10:00"), ("charging", 30, 2))).total.excl_vat == D("1")


def test_impossible_sessions_are_refused():
    start = datetime(2024, 3, 4, 9, tzinfo=UTC)
    bad = SessionInput(start, start + timedelta(hours=1), "Europe/Berlin", (
        Segment(start, start + timedelta(minutes=40), SegmentState.CHARGING, D(1000)),
        Segment(start + timedelta(minutes=30), start + timedelta(hours=1), SegmentState.IDLE)))
    with pytest.raises(ImpossibleSession) as exc:
        price_session(DC, bad)
    assert exc.value.reason == "overlapping_periods"
    with pytest.raises(ImpossibleSession) as exc:
        price_session(DC, SessionInput(start, start - timedelta(seconds=1), "Europe/Berlin", ()))
    assert exc.value.reason == "negative_duration"
    with pytest.raises(ImpossibleSession) as exc:
        price_session(DC, SessionInput(start, start, "Mars/Olympus", ()))
    assert exc.value.reason == "unknown_time_zone"


def test_selection_takes_the_tariff_valid_at_the_start():
    old = tariff([{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
                 id="OLD", end_date_time="2024-03-01T00:00:00Z")
    new = tariff([{"price_components": [{"type": "ENERGY", "price": 0.4, "step_size": 1}]}],
                 id="NEW", start_date_time="2024-03-01T00:00:00Z")
    cheap = tariff([{"price_components": [{"type": "ENERGY", "price": 0.1, "step_size": 1}]}],
                   id="CHEAP", type="PROFILE_CHEAP")
    assert select_tariff([cheap, old, new], datetime(2024, 2, 29, 23, tzinfo=UTC)).id == "OLD"
    assert select_tariff([cheap, old, new], datetime(2024, 3, 1, 1, tzinfo=UTC)).id == "NEW"
    assert select_tariff([cheap], datetime(2024, 3, 1, 1, tzinfo=UTC)) is None


def _session(version: int = 3) -> ChargingSession:
    t0 = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)  # 22:00 Berlin: night rate
    return ChargingSession(
        session_id="5d9e7f0a-1111-5222-8333-944455556666", version=version, station_id="MUC-DC-001",
        evse_id=1, connector_id=1, transaction_ref="77", start_date_time=t0, end_date_time=t0 + timedelta(hours=1),
        kwh=D(40), status="COMPLETED", last_updated=t0 + timedelta(hours=2), final=True,
        cdr_token={"uid": "04A1B2C3D4E5F6", "type": "RFID", "contract_id": "DE-VST-C00000001-A",
                   "country_code": "DE", "party_id": "VST"},
        signed_data=[{"signedMeterData": "T0NNRnx7fQ==", "encodingMethod": "OCMF", "publicKey": "",
                      "context": "Transaction.End"}],
    )


def test_cdr_shape_and_credit():
    s = _session()
    loc = next(x for x in CATALOG.file.locations if x.id == "LOC-MUC-01")
    evse = loc.evses[0]
    priced = price_session(DC, session_input(s, loc.time_zone))  # no periods: one charging segment
    cdr = build_cdr(session=s, priced=priced, tariff=DC.tariff, location=loc, country_code="DE",
                    party_id="VST", evse=evse, connector=evse.connectors[0], last_updated=s.last_updated)
    CDR.model_validate(cdr)
    # 40 kWh at night x 0.49 = 19.60 + 1.00 = 20.60; incl x1.19 = 24.514.
    assert cdr["total_cost"] == {"excl_vat": 20.6, "incl_vat": 24.514}
    assert cdr["total_fixed_cost"] == {"excl_vat": 1, "incl_vat": 1.19}
    assert cdr["id"] == cdr_id(s.session_id, 3) != cdr_id(s.session_id, 4) and len(cdr["id"]) == 36
    assert cdr["cdr_location"]["connector_standard"] == "IEC_62196_T2_COMBO"
    assert cdr["signed_data"] == {"encoding_method": "OCMF", "signed_values": [
        {"nature": "End", "plain_data": "", "signed_data": "T0NNRnx7fQ=="}]}
    assert cdr["start_date_time"] == "2024-03-04T21:00:00Z" and cdr["total_time"] == 1
    credit = credit_cdr(cdr, datetime(2024, 3, 5, tzinfo=UTC))
    assert credit["id"] == cdr["id"] + "-C" and len(credit["id"]) <= 39
    assert credit["credit"] is True and credit["credit_reference_id"] == cdr["id"]
    assert credit["total_cost"] == {"excl_vat": -20.6, "incl_vat": -24.514}
    assert credit["total_energy_cost"] == cdr["total_energy_cost"]  # only total_cost is negated
    with pytest.raises(ValueError):
        credit_cdr(credit, datetime(2024, 3, 5, tzinfo=UTC))
