"""OCPI 2.2.1 models (libs/ocpi) against the specification's own examples and rules."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from libs.ocpi import models as m
from libs.ocpi.status import OcpiStatus, is_custom, is_success
from libs.ocpi.types import (
    CdrDimensionType,
    ConnectorType,
    DisplayText,
    GeoLocation,
    ModuleID,
    Price,
    TokenType,
    VersionNumber,
    ci_equal,
)

EXAMPLES = Path(__file__).parent / "ocpi_examples"


def _text(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def _data(name: str):
    return json.loads(_text(name))


def _round_trip(model: type[BaseModel], obj: BaseModel) -> dict:
    """Dump as OCPI JSON, check it is real JSON, parse it again and compare."""
    dumped = obj.model_dump(mode="json", exclude_none=True)
    text = json.dumps(dumped)  # must be plain JSON: no Decimal/datetime objects left
    again = model.model_validate_json(text)
    assert again == obj
    assert again.model_dump(mode="json", exclude_none=True) == dumped
    return dumped


def _error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> set[tuple]:
    return {tuple(err["loc"]) for err in exc.value.errors()}


def _assert_same_json(dumped: dict, original: dict) -> None:
    """Dumped OCPI JSON equals the example (numbers compared by value)."""
    assert json.loads(json.dumps(dumped), parse_float=Decimal) == json.loads(
        json.dumps(original), parse_float=Decimal
    )


# --- spec examples that validate as they are -------------------------------------------------

VALID_EXAMPLES = [
    (m.Location, "location_example.json"),
    (m.Location, "location_example_uc2_destination_charger.json"),
    (m.Location, "location_example_uc3_destination_charger_not_published.json"),
    (m.Location, "location_example_uc4_limited_visibility.json"),
    (m.Location, "location_example_uc5_home_charge_point.json"),
    (m.Location, "location_example_parking_garage_opening_hours.json"),
    (m.Hours, "location_hours_247_open_exception_closing.json"),
    (m.Hours, "location_hours_opening_hours_with_exceptional_closing.json"),
    (m.Hours, "location_hours_opening_hours_with_exceptional_opening.json"),
    (m.Token, "token_example_1_app_user.json"),
    (m.Token, "token_example_2_full_rfid.json"),
    (m.Token, "token_put_example.json"),
    (m.Credentials, "credentials_example.json"),
    (m.Credentials, "credentials_example2.json"),
    (m.Credentials, "credentials_example3.json"),
    (m.Credentials, "credentials_example4.json"),
    (m.VersionDetails, "version_details_example.json"),
    (m.VersionDetails, "version_details_example2.json"),
    (DisplayText, "type_displaytext_example.json"),
] + [(m.Tariff, p.name) for p in sorted(EXAMPLES.glob("tariff*.json")) if p.name != "tariff_put_example.json"]


@pytest.mark.parametrize(("model", "name"), VALID_EXAMPLES, ids=[n for _, n in VALID_EXAMPLES])
def test_spec_example_validates_and_round_trips(model, name):
    obj = model.model_validate_json(_text(name))
    dumped = _round_trip(model, obj)
    # Nothing in these examples is unknown to the model, so the dump is the example itself.
    _assert_same_json(dumped, _data(name))


def test_tariff_examples_are_all_covered():
    names = {n for model, n in VALID_EXAMPLES if model is m.Tariff}
    assert len(names) >= 20  # 18 numbered tariffs + 2 restriction examples


def test_location_example_content():
    loc = m.Location.model_validate_json(_text("location_example.json"))
    assert loc.evses is not None and len(loc.evses) == 2
    conn = loc.evses[0].connectors[0]
    assert conn.standard is ConnectorType.IEC_62196_T2
    assert conn.last_updated == datetime(2015, 3, 16, 10, 10, 2, tzinfo=UTC)
    assert loc.operator is not None and loc.operator.name == "BeCharged"


def test_uc4_publish_allowed_to():
    loc = m.Location.model_validate_json(_text("location_example_uc4_limited_visibility.json"))
    assert loc.publish is False
    assert loc.publish_allowed_to is not None
    assert loc.publish_allowed_to[2].type is TokenType.RFID


def test_wrapped_examples():
    # RegularHours and EnergyMix examples are fragments wrapped in their field name.
    hours = m.Hours.model_validate(_data("location_regularhours_example.json")["opening_times"])
    assert hours.regular_hours is not None and len(hours.regular_hours) == 5
    _round_trip(m.Hours, hours)
    for name in (
        "location_energymix_example_simple.json",
        "location_energymix_example_energy_provider.json",
        "location_energymix_example_complete.json",
    ):
        raw = _data(name)["energy_mix"]
        mix = m.EnergyMix.model_validate(raw)
        _assert_same_json(_round_trip(m.EnergyMix, mix), raw)


def test_versions_info_example():
    versions = [m.Version.model_validate(v) for v in _data("versions_info_example.json")]
    assert [v.version for v in versions] == [VersionNumber.V2_1_1, VersionNumber.V2_2]
    for v in versions:
        _round_trip(m.Version, v)


# --- spec examples that deviate from the spec's object tables --------------------------------

_MISSING_TOKEN_OWNER = {("cdr_token", "country_code"), ("cdr_token", "party_id")}


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (m.CDR, "cdr_example.json"),
        (m.Session, "session_example_1_simple_start.json"),
        (m.Session, "session_example_2_short_finished.json"),
    ],
)
def test_examples_without_cdr_token_owner(model, name):
    raw = _data(name)
    with pytest.raises(ValidationError) as exc:
        model.model_validate(raw)
    assert _error_locs(exc) == _MISSING_TOKEN_OWNER
    raw["cdr_token"].update(country_code="NL", party_id="TST")
    obj = model.model_validate(raw)
    _assert_same_json(_round_trip(model, obj), raw)


def test_cdr_example_values():
    raw = _data("cdr_example.json")
    raw["cdr_token"].update(country_code="DE", party_id="ACC")
    cdr = m.CDR.model_validate_json(json.dumps(raw))
    assert cdr.total_cost == Price(excl_vat=Decimal("4.00"), incl_vat=Decimal("4.40"))
    assert cdr.total_energy == Decimal("15.342")
    assert isinstance(cdr.total_time, Decimal)
    dumped = cdr.model_dump(mode="json", exclude_none=True)
    assert dumped["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert isinstance(dumped["total_energy"], float)  # a JSON number, not a string
    assert dumped["end_date_time"] == "2015-06-29T23:37:32Z"


def test_tariff_put_example_lacks_last_updated():
    raw = _data("tariff_put_example.json")
    with pytest.raises(ValidationError) as exc:
        m.Tariff.model_validate(raw)
    assert _error_locs(exc) == {("last_updated",)}
    raw["last_updated"] = "2019-02-03T17:00:11Z"
    _round_trip(m.Tariff, m.Tariff.model_validate(raw))


def test_add_evse_example_is_rejected():
    with pytest.raises(ValidationError) as exc:
        m.EVSE.model_validate_json(_text("location_put_example_add_evse.json"))
    locs = _error_locs(exc)
    for field in ("power_type", "max_voltage", "max_amperage", "last_updated"):
        assert ("connectors", 0, field) in locs
    assert ("physical_reference",) in locs  # a number where string(16) is required


# --- strings, enums, required fields ---------------------------------------------------------


def _token(**overrides) -> dict:
    data = _data("token_example_2_full_rfid.json")
    data.update(overrides)
    return data


def test_token_ok_baseline():
    assert m.Token.model_validate(_token()).uid == "12345678905880"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country_code", "DEU"),  # CiString(2)
        ("party_id", "TNMX"),  # CiString(3)
        ("uid", "x" * 37),  # CiString(36)
        ("contract_id", "c" * 37),  # CiString(36)
        ("issuer", "i" * 65),  # string(64)
        ("language", "ita"),  # string(2)
    ],
)
def test_over_long_strings_rejected(field, value):
    with pytest.raises(ValidationError) as exc:
        m.Token.model_validate(_token(**{field: value}))
    assert _error_locs(exc) == {(field,)}


def test_max_length_is_inclusive():
    assert m.Token.model_validate(_token(uid="u" * 36)).uid == "u" * 36
    # CDR.id is CiString(39), longer than the usual 36 to allow credit CDR suffixes.
    raw = _data("cdr_example.json")
    raw["cdr_token"].update(country_code="DE", party_id="ACC")
    assert m.CDR.model_validate(dict(raw, id="c" * 39)).id == "c" * 39
    with pytest.raises(ValidationError) as exc:
        m.CDR.model_validate(dict(raw, id="c" * 40))
    assert _error_locs(exc) == {("id",)}


def test_cistring_is_printable_ascii_only():
    for bad in ("caf\u00e9", "a\tb", "line\nbreak"):
        with pytest.raises(ValidationError):
            m.Token.model_validate(_token(uid=bad))
    # string (case sensitive) allows printable UTF-8 but no control characters
    assert m.Token.model_validate(_token(issuer="Stadtwerke M\u00fcnchen")).issuer.endswith("\u00fcnchen")
    with pytest.raises(ValidationError):
        m.Token.model_validate(_token(issuer="two\nlines"))


def test_ci_equal():
    assert ci_equal("NL*ALL*E1", "nl*all*e1")
    assert not ci_equal("ABC", "ABD")


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "rfid"), ("type", "NFC"), ("whitelist", "SOMETIMES"), ("default_profile_type", "SLOW")],
)
def test_bad_enums_rejected(field, value):
    with pytest.raises(ValidationError) as exc:
        m.Token.model_validate(_token(**{field: value}))
    assert _error_locs(exc) == {(field,)}


def test_bad_enum_in_nested_object_rejected():
    raw = _data("location_example.json")
    raw["evses"][0]["connectors"][0]["standard"] = "IEC_62196_T2_SOCKET"
    raw["evses"][1]["status"] = "BROKEN"
    with pytest.raises(ValidationError) as exc:
        m.Location.model_validate(raw)
    assert _error_locs(exc) == {("evses", 0, "connectors", 0, "standard"), ("evses", 1, "status")}


@pytest.mark.parametrize(
    ("model", "name", "field"),
    [
        (m.Token, "token_example_1_app_user.json", "issuer"),
        (m.Token, "token_example_1_app_user.json", "whitelist"),
        (m.Location, "location_example.json", "time_zone"),
        (m.Location, "location_example.json", "coordinates"),
        (m.Tariff, "tariff_1_simple_2hour.json", "currency"),
        (m.Tariff, "tariff_1_simple_2hour.json", "elements"),
        (m.Credentials, "credentials_example.json", "roles"),
        (m.VersionDetails, "version_details_example.json", "endpoints"),
    ],
)
def test_missing_required_field_rejected(model, name, field):
    raw = _data(name)
    del raw[field]
    with pytest.raises(ValidationError) as exc:
        model.model_validate(raw)
    assert (field,) in _error_locs(exc)


@pytest.mark.parametrize(
    ("model", "name", "path"),
    [
        (m.Location, "location_example.json", ("evses", 0, "connectors")),
        (m.Tariff, "tariff_1_simple_2hour.json", ("elements",)),
        (m.Credentials, "credentials_example.json", ("roles",)),
    ],
)
def test_one_or_more_lists_reject_empty(model, name, path):
    raw = _data(name)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = []
    with pytest.raises(ValidationError) as exc:
        model.model_validate(raw)
    assert path in _error_locs(exc)


def test_unknown_fields_are_ignored_and_not_sent():
    raw = _token(some_future_field={"x": 1})
    tok = m.Token.model_validate(raw)
    assert "some_future_field" not in tok.model_dump(mode="json", exclude_none=True)


def test_optional_fields_left_out_of_output():
    tok = m.Token.model_validate_json(_text("token_example_1_app_user.json"))
    dumped = tok.model_dump(mode="json", exclude_none=True)
    assert "visual_number" not in dumped and "group_id" not in dumped
    assert tok.to_ocpi() == dumped


# --- class-level rules from the spec text -----------------------------------------------------


def test_geolocation_regex():
    assert GeoLocation(latitude="51.047599", longitude="-126.104965").latitude == "51.047599"
    for lat, lon in [
        ("51.0475", "3.729944"),
        ("151.047599", "3.729944"),
        ("51,047599", "3.729944"),
        ("51.047599", "1234.729944"),
        ("51.04759912", "3.729944"),
    ]:
        with pytest.raises(ValidationError):
            GeoLocation(latitude=lat, longitude=lon)


def test_regular_hours_rules():
    assert m.RegularHours(weekday=7, period_begin="08:00", period_end="23:59").weekday == 7
    for kwargs in (
        {"weekday": 0, "period_begin": "08:00", "period_end": "20:00"},
        {"weekday": 1, "period_begin": "8:00", "period_end": "20:00"},
        {"weekday": 1, "period_begin": "08:00", "period_end": "24:00"},
        {"weekday": 1, "period_begin": "20:00", "period_end": "08:00"},
    ):
        with pytest.raises(ValidationError):
            m.RegularHours(**kwargs)


def test_hours_twentyfourseven_rules():
    with pytest.raises(ValidationError):
        m.Hours(twentyfourseven=False)
    with pytest.raises(ValidationError):
        m.Hours(
            twentyfourseven=True,
            regular_hours=[m.RegularHours(weekday=1, period_begin="08:00", period_end="20:00")],
        )


def test_publish_token_rules():
    assert m.PublishTokenType(group_id="G1").group_id == "G1"
    for kwargs in ({}, {"uid": "123"}, {"visual_number": "1234-5"}, {"issuer": "X", "type": "RFID"}):
        with pytest.raises(ValidationError):
            m.PublishTokenType(**kwargs)


def test_publish_allowed_to_only_when_not_published():
    raw = _data("location_example_uc4_limited_visibility.json")
    raw["publish"] = True
    with pytest.raises(ValidationError):
        m.Location.model_validate(raw)


def test_tariff_restriction_formats():
    ok = m.TariffRestrictions(start_time="22:00", end_time="06:00", start_date="2015-12-24")
    assert ok.end_time == "06:00"  # wraps around midnight, allowed for tariffs
    for kwargs in ({"start_time": "25:00"}, {"start_date": "2015-13-01"}, {"end_date": "24-12-2015"}):
        with pytest.raises(ValidationError):
            m.TariffRestrictions(**kwargs)


def test_cdr_rules():
    raw = _data("cdr_example.json")
    raw["cdr_token"].update(country_code="DE", party_id="ACC")
    credit = dict(raw, credit=True, id="12345-C")
    with pytest.raises(ValidationError):
        m.CDR.model_validate(credit)
    assert m.CDR.model_validate(dict(credit, credit_reference_id="12345")).credit is True
    session_only = json.loads(json.dumps(raw))
    session_only["charging_periods"][0]["dimensions"].append({"type": "STATE_OF_CHARGE", "volume": 80})
    with pytest.raises(ValidationError):
        m.CDR.model_validate(session_only)
    # ...but a Session may carry it.
    period = m.ChargingPeriod.model_validate(session_only["charging_periods"][0])
    assert period.dimensions[-1].type is CdrDimensionType.STATE_OF_CHARGE


def test_start_session_needs_evse_for_connector():
    token = m.Token.model_validate(_token())
    with pytest.raises(ValidationError):
        m.StartSession(response_url="https://e.com/r/1", token=token, location_id="LOC1", connector_id="1")
    cmd = m.StartSession(
        response_url="https://e.com/r/1", token=token, location_id="LOC1", evse_uid="3256", connector_id="1"
    )
    _round_trip(m.StartSession, cmd)


def test_commands_round_trip():
    token = m.Token.model_validate(_token())
    objs = [
        m.StopSession(response_url="https://e.com/r/2", session_id="101"),
        m.ReserveNow(
            response_url="https://e.com/r/3",
            token=token,
            expiry_date="2020-01-01T12:00:00Z",
            reservation_id="R1",
            location_id="LOC1",
        ),
        m.CancelReservation(response_url="https://e.com/r/4", reservation_id="R1"),
        m.UnlockConnector(
            response_url="https://e.com/r/5", location_id="LOC1", evse_uid="3256", connector_id="1"
        ),
        m.CommandResponse(result="ACCEPTED", timeout=30, message=[DisplayText(language="en", text="ok")]),
        m.CommandResult(result="EVSE_OCCUPIED"),
        m.AuthorizationInfo(
            allowed="ALLOWED",
            token=token,
            location=m.LocationReferences(location_id="LOC1", evse_uids=["3256"]),
        ),
    ]
    for obj in objs:
        _round_trip(type(obj), obj)
    with pytest.raises(ValidationError):
        m.CommandResult(result="OK")
    with pytest.raises(ValidationError):
        m.CommandResponse(result="ACCEPTED")  # timeout is required


def test_signed_data():
    sd = m.SignedData(
        encoding_method="OCMF",
        signed_values=[m.SignedValue(nature="Start", plain_data="OCMF|{}", signed_data="c2ln")],
    )
    _round_trip(m.SignedData, sd)
    with pytest.raises(ValidationError):
        m.SignedData(encoding_method="OCMF", signed_values=[])
    with pytest.raises(ValidationError):
        m.SignedValue(nature="N" * 33, plain_data="", signed_data="")


def test_endpoint_custom_module_id():
    assert m.Endpoint(identifier="cdrs", role="SENDER", url="https://e.com/cdrs").identifier is ModuleID.CDRS
    custom = m.Endpoint(identifier="nltnm-tokens", role="RECEIVER", url="https://e.com/t")
    assert custom.identifier == "nltnm-tokens"
    with pytest.raises(ValidationError):
        m.Endpoint(identifier="cdrs", role="CPO", url="https://e.com/cdrs")


# --- DateTime and numbers ---------------------------------------------------------------------


def _period(begin) -> m.StatusSchedule:
    return m.StatusSchedule(period_begin=begin, status="PLANNED")


def test_datetime_serialises_as_utc_with_z():
    cest = timezone(timedelta(hours=2))
    dumped = _period(datetime(2019, 6, 24, 14, 39, 9, tzinfo=cest)).to_ocpi()
    assert dumped["period_begin"] == "2019-06-24T12:39:09Z"
    # naive datetimes are UTC
    assert _period(datetime(2019, 6, 24, 12, 39, 9)).to_ocpi()["period_begin"] == "2019-06-24T12:39:09Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", "2015-06-29T20:39:09Z"),
        ("2015-06-29T20:39:09", "2015-06-29T20:39:09Z"),
        ("2016-12-29T17:45:09.2Z", "2016-12-29T17:45:09.2Z"),
        ("2016-12-29T17:45:09.2", "2016-12-29T17:45:09.2Z"),
        ("2018-01-01T01:08:01.123Z", "2018-01-01T01:08:01.123Z"),
        ("2018-01-01T01:08:01.123", "2018-01-01T01:08:01.123Z"),
    ],
)
def test_spec_datetime_formats(text, expected):
    obj = _period(text)
    assert obj.period_begin.tzinfo is UTC
    assert obj.to_ocpi()["period_begin"] == expected
    _round_trip(m.StatusSchedule, obj)


@pytest.mark.parametrize(
    "text",
    [
        "2015-06-29 20:39:09Z",
        "2015-06-29",
        "2015-02-30T20:39:09Z",
        "2018-01-01T01:08:01.123456Z",
    ],
)
def test_bad_datetimes_rejected(text):
    with pytest.raises(ValidationError):
        _period(text)


@pytest.mark.parametrize(
    "text", ["2015-06-29T20:39:09+00:00", "2015-06-29T22:39:09+02:00", "2015-06-29T19:39:09.000-01:00"]
)
def test_datetime_with_offset_is_tolerated_on_input_and_sent_as_utc(text):
    assert _period(text).to_ocpi()["period_begin"] == "2015-06-29T20:39:09Z"


def test_datetime_not_a_number():
    with pytest.raises(ValidationError):
        _period(1435610349)


def test_numbers_are_decimals_and_json_numbers():
    price = Price.model_validate_json('{"excl_vat": 0.1, "incl_vat": 0.121}')
    assert price.excl_vat == Decimal("0.1") and price.incl_vat == Decimal("0.121")
    text = json.dumps(price.to_ocpi())
    assert text == '{"excl_vat": 0.1, "incl_vat": 0.121}'
    assert Price(excl_vat=Decimal("2.00")).to_ocpi() == {"excl_vat": 2}
    with pytest.raises(ValidationError):
        Price(excl_vat=True)
    with pytest.raises(ValidationError):
        Price(excl_vat=float("nan"))
    with pytest.raises(ValidationError):
        Price()  # excl_vat is required


def test_energy_source_percentage_range():
    with pytest.raises(ValidationError):
        m.EnergySource(source="SOLAR", percentage=101)
    assert m.EnergySource(source="SOLAR", percentage=100).percentage == 100


# --- status codes -----------------------------------------------------------------------------


def test_status_codes():
    assert OcpiStatus.SUCCESS == 1000
    assert OcpiStatus.INVALID_OR_MISSING_PARAMETERS == 2001
    assert OcpiStatus.UNKNOWN_TOKEN == 2004
    assert OcpiStatus.NO_MATCHING_ENDPOINTS == 3003
    assert OcpiStatus.CONNECTION_PROBLEM == 4003
    assert {int(s) for s in OcpiStatus} == {
        1000,
        2000,
        2001,
        2002,
        2003,
        2004,
        3000,
        3001,
        3002,
        3003,
        4000,
        4001,
        4002,
        4003,
    }
    assert is_success(1000) and is_success(1901) and not is_success(2000)
    assert is_custom(2901) and not is_custom(2001)
