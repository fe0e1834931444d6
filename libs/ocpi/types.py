"""OCPI 2.2.1 base types and enumerations.

Sources in the OCPI 2.2.1 specification (repository ocpi/ocpi, tag 2.2.1):
- ``types.asciidoc``: CiString, string, DateTime, DisplayText, number, Price, Role, URL.
- ``mod_locations.asciidoc``: GeoLocation and the Locations enums (Status, Capability, ConnectorType, ...).
- ``mod_tariffs.asciidoc``: DayOfWeek, ReservationRestrictionType, TariffDimensionType, TariffType.
- ``mod_tokens.asciidoc``: AllowedType, TokenType, WhitelistType.
- ``mod_cdrs.asciidoc``: AuthMethod, CdrDimensionType.
- ``mod_sessions.asciidoc``: ChargingPreferencesResponse, ProfileType, SessionStatus.
- ``mod_commands.asciidoc``: CommandResponseType, CommandResultType, CommandType.
- ``version_information_endpoint.asciidoc``: InterfaceRole, ModuleID, VersionNumber.

All enumerations are case sensitive (types.asciidoc, string type: "All strings in messages and
enumerations are case sensitive, unless explicitly stated otherwise").
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

__all__ = [
    "AllowedType",
    "AuthMethod",
    "Capability",
    "CdrDimensionType",
    "ChargingPreferencesResponse",
    "CiString",
    "CommandResponseType",
    "CommandResultType",
    "CommandType",
    "ConnectorFormat",
    "ConnectorType",
    "DateTime",
    "DayOfWeek",
    "DisplayText",
    "EnergySourceCategory",
    "EnvironmentalImpactCategory",
    "Facility",
    "GeoLocation",
    "ImageCategory",
    "InterfaceRole",
    "ModuleID",
    "Number",
    "OcpiModel",
    "ParkingRestriction",
    "ParkingType",
    "PowerType",
    "Price",
    "ProfileType",
    "ReservationRestrictionType",
    "Role",
    "SessionStatus",
    "Status",
    "String",
    "TariffDimensionType",
    "TariffType",
    "TokenType",
    "URL",
    "VersionNumber",
    "WhitelistType",
    "ci_equal",
    "format_datetime",
]


class OcpiModel(BaseModel):
    """Base of every OCPI object: unknown fields are ignored (receivers must tolerate them)."""

    model_config = ConfigDict(extra="ignore")

    def to_ocpi(self) -> dict[str, Any]:
        """The object as spec-shaped JSON-compatible data (optional fields left out when unset)."""
        return self.model_dump(mode="json", exclude_none=True)


# --- strings (types.asciidoc) ---------------------------------------------------------------

# CiString: "Case Insensitive String. Only printable ASCII allowed."
_CI_STRING_PATTERN = r"^[\x20-\x7E]*$"
# string: "Case Sensitive String. Only printable UTF-8 allowed. (Non-printable characters like:
# Carriage returns, Tabs, Line breaks, etc are not allowed)". Control characters (C0, DEL, C1) are
# rejected; anything else that is valid UTF-8 is accepted.
_STRING_PATTERN = r"^[^\x00-\x1F\x7F-\x9F]*$"


def CiString(max_length: int) -> Any:  # noqa: N802 - named after the spec type
    """``CiString(n)``: case-insensitive, printable ASCII, at most ``n`` characters.

    The value is kept as sent; compare CiStrings with :func:`ci_equal`.
    """
    return Annotated[str, StringConstraints(max_length=max_length, pattern=_CI_STRING_PATTERN)]


def String(max_length: int | None = None) -> Any:  # noqa: N802 - named after the spec type
    """``string(n)``: case-sensitive, printable UTF-8, at most ``n`` characters."""
    return Annotated[str, StringConstraints(max_length=max_length, pattern=_STRING_PATTERN)]


def ci_equal(a: str | None, b: str | None) -> bool:
    """Equality of two CiString values (ASCII case-insensitive)."""
    if a is None or b is None:
        return a is b
    return a.lower() == b.lower()


# URL: "An URL a string(255) type following the w3.org spec."
URL = String(255)


# --- DateTime (types.asciidoc) --------------------------------------------------------------

# "All timestamps are formatted as string(25) following RFC 3339 ... All timestamps SHALL be in UTC.
# The absence of the timezone designator implies a UTC timestamp. Fractional seconds MAY be used.
# ... other formats/patterns are not allowed"; "+00:00 is not the same as UTC".
# We always SEND the spec form. On input an explicit RFC 3339 offset is tolerated and converted
# to UTC (decision, docs/ocpi.md): peers do send "+00:00", and rejecting a whole push for it
# would lose data while the instant is unambiguous.
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$"
)
_SPEC_DATETIME_LENGTH = 25  # string(25)
_DATETIME_MAX_LENGTH = 32  # with a tolerated offset


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        if len(value) > _DATETIME_MAX_LENGTH:
            raise ValueError(f"OCPI DateTime is at most {_DATETIME_MAX_LENGTH} characters")
        m = _DATETIME_RE.match(value)
        if m is None:
            raise ValueError(
                "OCPI DateTime must look like 2015-06-29T20:39:09Z or 2018-01-01T01:08:01.123Z "
                "(UTC with 'Z' or no designator)"
            )
        year, month, day, hour, minute, second, frac, zone = m.groups()
        if zone in (None, "Z") and len(value) > _SPEC_DATETIME_LENGTH:
            raise ValueError(f"OCPI DateTime is at most {_SPEC_DATETIME_LENGTH} characters")
        micro = int((frac or "").ljust(6, "0")) if frac else 0
        tz = UTC
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    else:
        raise ValueError("OCPI DateTime must be a string")
    # Naive datetimes are UTC (absence of the designator implies UTC); aware ones are converted.
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    # Keep the precision that is serialised (milliseconds) so a dump/parse round trip is exact.
    return dt.replace(microsecond=dt.microsecond - dt.microsecond % 1000)


def format_datetime(dt: datetime) -> str:
    """Format as OCPI DateTime: ``YYYY-MM-DDTHH:MM:SS[.fff]Z``, always UTC."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    millis = dt.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text + "Z"


DateTime = Annotated[
    datetime,
    BeforeValidator(_parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]


# --- number (types.asciidoc) ----------------------------------------------------------------


def _decimal_to_json(value: Decimal) -> int | float:
    # "Numbers in OCPI are formatted as JSON numbers." Integral values become JSON integers,
    # others a float whose shortest repr is the decimal's text for up to 15 significant digits.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is required, not a boolean")
    return value


# "number": money, kWh, hours, percentages. Held as ``decimal.Decimal``, sent as a JSON number.
Number = Annotated[
    Decimal,
    BeforeValidator(_reject_bool),
    Field(allow_inf_nan=False),
    PlainSerializer(_decimal_to_json, when_used="json"),
]


# --- classes (types.asciidoc, mod_locations.asciidoc) ---------------------------------------


class DisplayText(OcpiModel):
    """types.asciidoc, DisplayText class."""

    language: String(2)  # Language Code ISO 639-1.
    text: String(512)  # Text to be displayed to an end user. No markup, html etc. allowed.


class Price(OcpiModel):
    """types.asciidoc, Price class."""

    excl_vat: Number
    incl_vat: Number | None = None


class GeoLocation(OcpiModel):
    """mod_locations.asciidoc, GeoLocation class (WGS 84)."""

    latitude: Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]


# --- enums ----------------------------------------------------------------------------------


class Role(StrEnum):
    """types.asciidoc, Role enum."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class Capability(StrEnum):
    """mod_locations.asciidoc, Capability enum."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    """mod_locations.asciidoc, ConnectorFormat enum."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorType(StrEnum):
    """mod_locations.asciidoc, ConnectorType enum (note the mixed-case IEC 60309 values)."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class EnergySourceCategory(StrEnum):
    """mod_locations.asciidoc, EnergySourceCategory enum."""

    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    """mod_locations.asciidoc, EnvironmentalImpactCategory enum."""

    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class Facility(StrEnum):
    """mod_locations.asciidoc, Facility enum."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(StrEnum):
    """mod_locations.asciidoc, ImageCategory enum."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class ParkingRestriction(StrEnum):
    """mod_locations.asciidoc, ParkingRestriction enum."""

    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class ParkingType(StrEnum):
    """mod_locations.asciidoc, ParkingType enum."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class PowerType(StrEnum):
    """mod_locations.asciidoc, PowerType enum."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class Status(StrEnum):
    """mod_locations.asciidoc, Status enum (of an EVSE)."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class DayOfWeek(StrEnum):
    """mod_tariffs.asciidoc, DayOfWeek enum."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """mod_tariffs.asciidoc, ReservationRestrictionType enum."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffDimensionType(StrEnum):
    """mod_tariffs.asciidoc, TariffDimensionType enum."""

    ENERGY = "ENERGY"  # kWh, step_size multiplier 1 Wh
    FLAT = "FLAT"  # flat fee, no unit for step_size
    PARKING_TIME = "PARKING_TIME"  # hours not charging, step_size multiplier 1 second
    TIME = "TIME"  # hours charging, step_size multiplier 1 second


class TariffType(StrEnum):
    """mod_tariffs.asciidoc, TariffType enum."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class AllowedType(StrEnum):
    """mod_tokens.asciidoc, AllowedType enum."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class TokenType(StrEnum):
    """mod_tokens.asciidoc, TokenType enum."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """mod_tokens.asciidoc, WhitelistType enum."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AuthMethod(StrEnum):
    """mod_cdrs.asciidoc, AuthMethod enum."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """mod_cdrs.asciidoc, CdrDimensionType enum."""

    CURRENT = "CURRENT"  # Session only
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"  # Session only
    ENERGY_IMPORT = "ENERGY_IMPORT"  # Session only
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"  # Session only
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"  # Session only
    TIME = "TIME"


#: CdrDimensionType values that "SHALL therefor only be used in Sessions" (mod_cdrs.asciidoc).
SESSION_ONLY_DIMENSIONS: frozenset[CdrDimensionType] = frozenset(
    {
        CdrDimensionType.CURRENT,
        CdrDimensionType.ENERGY_EXPORT,
        CdrDimensionType.ENERGY_IMPORT,
        CdrDimensionType.POWER,
        CdrDimensionType.STATE_OF_CHARGE,
    }
)


class ChargingPreferencesResponse(StrEnum):
    """mod_sessions.asciidoc, ChargingPreferencesResponse enum."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ProfileType(StrEnum):
    """mod_sessions.asciidoc, ProfileType enum."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class SessionStatus(StrEnum):
    """mod_sessions.asciidoc, SessionStatus enum."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class CommandResponseType(StrEnum):
    """mod_commands.asciidoc, CommandResponseType enum (CPO's HTTP answer to a command)."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    """mod_commands.asciidoc, CommandResultType enum (the Charge Point's result)."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandType(StrEnum):
    """mod_commands.asciidoc, CommandType enum."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class InterfaceRole(StrEnum):
    """version_information_endpoint.asciidoc, InterfaceRole enum."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ModuleID(StrEnum):
    """version_information_endpoint.asciidoc, ModuleID enum (custom module ids are allowed too)."""

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class VersionNumber(StrEnum):
    """version_information_endpoint.asciidoc, VersionNumber enum."""

    V2_0 = "2.0"
    V2_1 = "2.1"  # deprecated
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"  # deprecated
    V2_2_1 = "2.2.1"
