"""OCPI 2.2.1 objects as pydantic v2 models.

Every model ignores unknown fields on input and is sent with ``model_dump(mode="json",
exclude_none=True)`` (or :meth:`OcpiModel.to_ocpi`). Cardinality follows the spec tables:
``1`` required, ``?`` optional (``None``), ``*`` optional list (``None`` when absent), ``+`` required
non-empty list. Field lengths and enums are the spec's.

Sources in the OCPI 2.2.1 specification (repository ocpi/ocpi, tag 2.2.1):
- ``mod_locations.asciidoc``: Location, EVSE, Connector and their classes.
- ``mod_tariffs.asciidoc``: Tariff, TariffElement, PriceComponent, TariffRestrictions.
- ``mod_tokens.asciidoc``: Token, EnergyContract, AuthorizationInfo, LocationReferences.
- ``mod_cdrs.asciidoc``: CDR, CdrToken, CdrLocation, ChargingPeriod, CdrDimension, SignedData, SignedValue.
- ``mod_sessions.asciidoc``: Session, ChargingPreferences.
- ``mod_commands.asciidoc``: StartSession, StopSession, ReserveNow, CancelReservation, UnlockConnector,
  CommandResponse, CommandResult.
- ``credentials.asciidoc``: Credentials, CredentialsRole.
- ``version_information_endpoint.asciidoc``: Version, VersionDetails, Endpoint.
"""

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from libs.ocpi.types import (
    SESSION_ONLY_DIMENSIONS,
    URL,
    AllowedType,
    AuthMethod,
    Capability,
    CdrDimensionType,
    CiString,
    CommandResponseType,
    CommandResultType,
    ConnectorFormat,
    ConnectorType,
    DateTime,
    DayOfWeek,
    DisplayText,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    Facility,
    GeoLocation,
    ImageCategory,
    InterfaceRole,
    ModuleID,
    Number,
    OcpiModel,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Price,
    ProfileType,
    ReservationRestrictionType,
    Role,
    SessionStatus,
    Status,
    String,
    TariffDimensionType,
    TariffType,
    TokenType,
    VersionNumber,
    WhitelistType,
)

__all__ = [
    "CDR",
    "EVSE",
    "AdditionalGeoLocation",
    "AuthorizationInfo",
    "BusinessDetails",
    "CancelReservation",
    "CdrDimension",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "ChargingPreferences",
    "CommandResponse",
    "CommandResult",
    "Connector",
    "Credentials",
    "CredentialsRole",
    "Endpoint",
    "EnergyContract",
    "EnergyMix",
    "EnergySource",
    "EnvironmentalImpact",
    "ExceptionalPeriod",
    "Hours",
    "Image",
    "Location",
    "LocationReferences",
    "PriceComponent",
    "PublishTokenType",
    "RegularHours",
    "ReserveNow",
    "Session",
    "SignedData",
    "SignedValue",
    "StartSession",
    "StatusSchedule",
    "StopSession",
    "Tariff",
    "TariffElement",
    "TariffRestrictions",
    "Token",
    "UnlockConnector",
    "Version",
    "VersionDetails",
]

# "Must be in 24h format with leading zeros ... Regex: ([0-1][0-9]|2[0-3]):[0-5][0-9]"
_TIME_OF_DAY = Annotated[str, StringConstraints(max_length=5, pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
# TariffRestrictions.start_date: "Regex: ([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_LOCAL_DATE = Annotated[
    str,
    StringConstraints(max_length=10, pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
]
# int(5): at most five digits.
_INT5 = Annotated[int, Field(ge=0, le=99999)]


# ============================================================================================
# Locations (mod_locations.asciidoc)
# ============================================================================================


class Image(OcpiModel):
    """mod_locations.asciidoc, Image class."""

    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString(4)  # gif, jpeg, png, svg
    width: _INT5 | None = None
    height: _INT5 | None = None


class BusinessDetails(OcpiModel):
    """mod_locations.asciidoc, BusinessDetails class."""

    name: String(100)
    website: URL | None = None
    logo: Image | None = None


class AdditionalGeoLocation(OcpiModel):
    """mod_locations.asciidoc, AdditionalGeoLocation class."""

    latitude: Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
    name: DisplayText | None = None


class EnergySource(OcpiModel):
    """mod_locations.asciidoc, EnergySource class."""

    source: EnergySourceCategory
    percentage: Annotated[Number, Field(ge=0, le=100)]  # "Percentage of this source (0-100)"


class EnvironmentalImpact(OcpiModel):
    """mod_locations.asciidoc, EnvironmentalImpact class."""

    category: EnvironmentalImpactCategory
    amount: Number  # g/kWh


class EnergyMix(OcpiModel):
    """mod_locations.asciidoc, EnergyMix class."""

    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String(64) | None = None
    energy_product_name: String(64) | None = None


class RegularHours(OcpiModel):
    """mod_locations.asciidoc, RegularHours class."""

    weekday: Annotated[int, Field(ge=1, le=7)]  # Monday (1) till Sunday (7)
    period_begin: _TIME_OF_DAY
    period_end: _TIME_OF_DAY  # "Must be later than period_begin."

    @model_validator(mode="after")
    def _end_after_begin(self) -> Self:
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be later than period_begin")
        return self


class ExceptionalPeriod(OcpiModel):
    """mod_locations.asciidoc, ExceptionalPeriod class."""

    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    """mod_locations.asciidoc, Hours class."""

    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _regular_hours_cardinality(self) -> Self:
        # "Only to be used if twentyfourseven=false, then this field needs to contain at least one
        # RegularHours object."
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours may only be used when twentyfourseven is false")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("regular_hours needs at least one entry when twentyfourseven is false")
        return self


class PublishTokenType(OcpiModel):
    """mod_locations.asciidoc, PublishTokenType class."""

    uid: CiString(36) | None = None
    type: TokenType | None = None
    visual_number: String(64) | None = None
    issuer: String(64) | None = None
    group_id: CiString(36) | None = None

    @model_validator(mode="after")
    def _set_fields(self) -> Self:
        # "At least one of the following fields SHALL be set: uid, visual_number, or group_id.
        # When uid is set, type SHALL also be set. When visual_number is set, issuer SHALL also be set."
        if self.uid is None and self.visual_number is None and self.group_id is None:
            raise ValueError("one of uid, visual_number or group_id must be set")
        if self.uid is not None and self.type is None:
            raise ValueError("type must be set when uid is set")
        if self.visual_number is not None and self.issuer is None:
            raise ValueError("issuer must be set when visual_number is set")
        return self


class StatusSchedule(OcpiModel):
    """mod_locations.asciidoc, StatusSchedule class."""

    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class Connector(OcpiModel):
    """mod_locations.asciidoc, Connector object."""

    id: CiString(36)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int  # V, line to neutral for AC_3_PHASE
    max_amperage: int  # A
    max_electric_power: int | None = None  # W
    tariff_ids: list[CiString(36)] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    """mod_locations.asciidoc, EVSE object."""

    uid: CiString(36)
    evse_id: CiString(48) | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String(4) | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String(16) | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    """mod_locations.asciidoc, Location object."""

    country_code: CiString(2)
    party_id: CiString(3)
    id: CiString(36)
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: String(3)  # ISO 3166-1 alpha-3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String(255)  # IANA tzdata, e.g. "Europe/Oslo"
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None  # spec default when absent: true
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _publish_allowed_to_only_unpublished(self) -> Self:
        # "This field may only be used when the publish field is set to false."
        if self.publish and self.publish_allowed_to:
            raise ValueError("publish_allowed_to may only be used when publish is false")
        return self


# ============================================================================================
# Tariffs (mod_tariffs.asciidoc)
# ============================================================================================


class PriceComponent(OcpiModel):
    """mod_tariffs.asciidoc, PriceComponent class."""

    type: TariffDimensionType
    price: Number  # per unit, excl. VAT
    vat: Number | None = None  # percentage; absent means no VAT applicable (not 0 %)
    step_size: int


class TariffRestrictions(OcpiModel):
    """mod_tariffs.asciidoc, TariffRestrictions class."""

    start_time: _TIME_OF_DAY | None = None
    end_time: _TIME_OF_DAY | None = None  # may be < start_time: wraps to the next day
    start_date: _LOCAL_DATE | None = None  # inclusive
    end_date: _LOCAL_DATE | None = None  # exclusive
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None  # seconds
    max_duration: int | None = None  # seconds
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    """mod_tariffs.asciidoc, TariffElement class."""

    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    """mod_tariffs.asciidoc, Tariff object."""

    country_code: CiString(2)
    party_id: CiString(3)
    id: CiString(36)
    currency: String(3)  # ISO 4217
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


# ============================================================================================
# Tokens (mod_tokens.asciidoc)
# ============================================================================================


class EnergyContract(OcpiModel):
    """mod_tokens.asciidoc, EnergyContract class."""

    supplier_name: String(64)
    contract_id: String(64) | None = None


class Token(OcpiModel):
    """mod_tokens.asciidoc, Token object. Unique per (country_code, party_id, uid, type)."""

    country_code: CiString(2)
    party_id: CiString(3)
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)
    visual_number: String(64) | None = None
    issuer: String(64)
    group_id: CiString(36) | None = None
    valid: bool
    whitelist: WhitelistType
    language: String(2) | None = None  # ISO 639-1
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    """mod_tokens.asciidoc, LocationReferences class."""

    location_id: CiString(36)
    evse_uids: list[CiString(36)] | None = None


class AuthorizationInfo(OcpiModel):
    """mod_tokens.asciidoc, AuthorizationInfo object (answer to real-time authorization)."""

    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString(36) | None = None
    info: DisplayText | None = None


# ============================================================================================
# CDRs (mod_cdrs.asciidoc)
# ============================================================================================


class CdrToken(OcpiModel):
    """mod_cdrs.asciidoc, CdrToken class."""

    country_code: CiString(2)
    party_id: CiString(3)
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)


class CdrDimension(OcpiModel):
    """mod_cdrs.asciidoc, CdrDimension class."""

    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    """mod_cdrs.asciidoc, ChargingPeriod class (also used by Session)."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString(36) | None = None


class CdrLocation(OcpiModel):
    """mod_cdrs.asciidoc, CdrLocation class. evse_uid/evse_id/connector_id may be "#NA"."""

    id: CiString(36)
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: String(3)
    coordinates: GeoLocation
    evse_uid: CiString(36)
    evse_id: CiString(48)
    connector_id: CiString(36)
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    """mod_cdrs.asciidoc, SignedValue class."""

    nature: CiString(32)  # Start, End, Intermediate, ...
    plain_data: String(512)
    signed_data: String(5000)  # base64


class SignedData(OcpiModel):
    """mod_cdrs.asciidoc, SignedData class."""

    encoding_method: CiString(36)  # e.g. OCMF
    encoding_method_version: int | None = None
    public_key: String(512) | None = None  # base64
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: String(512) | None = None


class CDR(OcpiModel):
    """mod_cdrs.asciidoc, CDR object."""

    country_code: CiString(2)
    party_id: CiString(3)
    id: CiString(39)  # 39 to allow credit CDR suffixes; normal CDRs use at most 36
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString(36) | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    cdr_location: CdrLocation
    meter_id: String(255) | None = None
    currency: String(3)  # ISO 4217
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number  # kWh
    total_energy_cost: Price | None = None
    total_time: Number  # hours
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None  # hours
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String(255) | None = None
    invoice_reference_id: CiString(39) | None = None
    credit: bool | None = None
    credit_reference_id: CiString(39) | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _cdr_rules(self) -> Self:
        # "When set to true, this is a Credit CDR, and the field credit_reference_id needs to be set"
        if self.credit and self.credit_reference_id is None:
            raise ValueError("credit_reference_id is required for a credit CDR")
        # CdrDimensionType: Session-only values "SHALL therefor only be used in Sessions".
        for period in self.charging_periods:
            for dim in period.dimensions:
                if dim.type in SESSION_ONLY_DIMENSIONS:
                    raise ValueError(f"dimension {dim.type} may only be used in Sessions, not in CDRs")
        return self


# ============================================================================================
# Sessions (mod_sessions.asciidoc)
# ============================================================================================


class Session(OcpiModel):
    """mod_sessions.asciidoc, Session object. evse_uid/connector_id may be "#NA" (reservation)."""

    country_code: CiString(2)
    party_id: CiString(3)
    id: CiString(36)
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)
    meter_id: String(255) | None = None
    currency: String(3)
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class ChargingPreferences(OcpiModel):
    """mod_sessions.asciidoc, ChargingPreferences object."""

    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None  # kWh
    discharge_allowed: bool | None = None  # spec default when absent: false


# ============================================================================================
# Commands (mod_commands.asciidoc)
# ============================================================================================


class CancelReservation(OcpiModel):
    """mod_commands.asciidoc, CancelReservation object."""

    response_url: URL
    reservation_id: CiString(36)


class CommandResponse(OcpiModel):
    """mod_commands.asciidoc, CommandResponse object (CPO's synchronous HTTP answer)."""

    result: CommandResponseType
    timeout: int  # seconds
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """mod_commands.asciidoc, CommandResult object (POSTed to the response_url)."""

    result: CommandResultType
    message: list[DisplayText] | None = None


class ReserveNow(OcpiModel):
    """mod_commands.asciidoc, ReserveNow object."""

    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString(36)
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None


class StartSession(OcpiModel):
    """mod_commands.asciidoc, StartSession object."""

    response_url: URL
    token: Token
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    connector_id: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None

    @model_validator(mode="after")
    def _evse_with_connector(self) -> Self:
        # evse_uid: "Required when connector_id is set."
        if self.connector_id is not None and self.evse_uid is None:
            raise ValueError("evse_uid is required when connector_id is set")
        return self


class StopSession(OcpiModel):
    """mod_commands.asciidoc, StopSession object."""

    response_url: URL
    session_id: CiString(36)


class UnlockConnector(OcpiModel):
    """mod_commands.asciidoc, UnlockConnector object."""

    response_url: URL
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)


# ============================================================================================
# Credentials (credentials.asciidoc)
# ============================================================================================


class CredentialsRole(OcpiModel):
    """credentials.asciidoc, CredentialsRole class."""

    role: Role
    business_details: BusinessDetails
    party_id: CiString(3)
    country_code: CiString(2)


class Credentials(OcpiModel):
    """credentials.asciidoc, Credentials object."""

    # "Case Sensitive, ASCII only ... Not encoded in Base64 or any other encoding."
    token: Annotated[str, StringConstraints(max_length=64, pattern=r"^[\x20-\x7E]*$")]
    url: URL  # the party's versions endpoint
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]


# ============================================================================================
# Versions (version_information_endpoint.asciidoc)
# ============================================================================================


class Version(OcpiModel):
    """version_information_endpoint.asciidoc, Version class.

    Versions unknown to 2.2.1 (a partner's newer OCPI) are kept as plain strings so one entry
    does not make a partner's whole version list unreadable.
    """

    version: Annotated[VersionNumber | String(), Field(union_mode="left_to_right")]
    url: URL


class Endpoint(OcpiModel):
    """version_information_endpoint.asciidoc, Endpoint class.

    ``identifier`` is a :class:`ModuleID`, or a plain string for a custom module ("the ModuleID enum
    can be extended with additional custom moduleIDs").
    """

    identifier: Annotated[ModuleID | String(), Field(union_mode="left_to_right")]
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    """version_information_endpoint.asciidoc, version details data."""

    version: Annotated[VersionNumber | String(), Field(union_mode="left_to_right")]
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
