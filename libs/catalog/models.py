"""Operator reference data: the catalog file's shape and the records on the compacted topics.

Locations, EVSEs and connectors carry the OCPI 2.2.1 Location fields plus each EVSE's OCPP
mapping (station_id + EVSE/connector ids). Tariffs and tokens are the OCPI 2.2.1 objects as they
are. Every record names its `owner` (DESIGN.md "a writer only updates or removes records of its
own source"): "catalog", "rotation" or "partner:<platform>".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from libs.catalog.credentials import is_key_hash
from libs.events.envelope import Payload
from libs.ocpi.models import Tariff, Token
from libs.ocpi.types import (
    Capability,
    ConnectorFormat,
    ConnectorType,
    Facility,
    ParkingRestriction,
    ParkingType,
    PowerType,
)

CATALOG_OWNER = "catalog"
ROTATION_OWNER = "rotation"

CiString3 = Annotated[str, StringConstraints(min_length=1, max_length=3)]
CiString36 = Annotated[str, StringConstraints(min_length=1, max_length=36)]
CiString48 = Annotated[str, StringConstraints(min_length=1, max_length=48)]


class Strict(BaseModel):
    """Catalog input is operator-written: typos must fail loudly, so unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(Strict):
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3}$")]
    name: str
    website: str | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"


class Coordinates(Strict):
    latitude: Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]


class RegularHours(Strict):
    weekday: int = Field(ge=1, le=7)
    period_begin: Annotated[str, StringConstraints(pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
    period_end: Annotated[str, StringConstraints(pattern=r"^([0-1][0-9]|2[0-4]):[0-5][0-9]$")]


class OpeningTimes(Strict):
    twentyfourseven: bool = True
    regular_hours: list[RegularHours] = []

    @model_validator(mode="after")
    def _either(self) -> OpeningTimes:
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours must be empty when twentyfourseven is true")
        return self


class Connector(Strict):
    id: CiString36
    ocpp_connector_id: int = Field(default=1, ge=1)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int = Field(gt=0)
    max_amperage: int = Field(gt=0)
    max_electric_power: int | None = Field(default=None, gt=0)
    tariff_ids: list[CiString36] = []
    terms_and_conditions: str | None = None
    removed: bool = False


class Evse(Strict):
    uid: CiString36  # OCPI evse_uid
    evse_id: Annotated[str, StringConstraints(max_length=48)] | None = None  # eMI3 EVSE ID
    station_id: Annotated[str, StringConstraints(min_length=1, max_length=48)]
    ocpp_evse_id: int = Field(default=1, ge=1)  # 1.6 connectorId, 2.0.1 evseId
    capabilities: list[Capability] = []
    floor_level: Annotated[str, StringConstraints(max_length=4)] | None = None
    physical_reference: Annotated[str, StringConstraints(max_length=16)] | None = None
    parking_restrictions: list[ParkingRestriction] = []
    connectors: list[Connector] = Field(min_length=1)
    removed: bool = False

    @model_validator(mode="after")
    def _unique_connectors(self) -> Evse:
        _unique([c.id for c in self.connectors], "connector id")
        _unique([c.ocpp_connector_id for c in self.connectors], "ocpp_connector_id")
        return self


class Location(Strict):
    id: CiString36
    country_code: CiString3 | None = None  # defaults to the operator's
    party_id: CiString3 | None = None
    name: str | None = None
    address: Annotated[str, StringConstraints(max_length=45)]
    city: Annotated[str, StringConstraints(max_length=45)]
    postal_code: Annotated[str, StringConstraints(max_length=10)] | None = None
    state: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]  # ISO 3166-1 alpha-3
    coordinates: Coordinates
    time_zone: str
    parking_type: ParkingType | None = None
    facilities: list[Facility] = []
    opening_times: OpeningTimes = OpeningTimes()
    charging_when_closed: bool | None = None
    publish: bool = True
    evses: list[Evse] = []
    removed: bool = False

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _unique_evses(self) -> Location:
        _unique([e.uid for e in self.evses], "evse uid")
        return self


class StationCredential(Strict):
    station_id: Annotated[str, StringConstraints(min_length=1, max_length=48)]
    security_profile: int = Field(default=2, ge=0, le=3)
    # Salted hash (``voltstream catalog hash-key``); plaintext keys never enter the catalog.
    authorization_key_hash: str | None = None

    @field_validator("authorization_key_hash")
    @classmethod
    def _hashed(cls, v: str | None) -> str | None:
        if v is not None and not is_key_hash(v):
            raise ValueError("must be a key hash from `voltstream catalog hash-key` (sha256$salt$digest)")
        return v


class CatalogFile(Strict):
    """The whole operator catalog file (examples/catalog.yaml)."""

    operator: Operator
    locations: list[Location] = []
    stations: list[StationCredential] = []
    tariffs: list[dict[str, Any]] = []  # OCPI Tariff; country/party/currency default from operator
    tokens: list[dict[str, Any]] = []  # OCPI Token; country/party default from operator

    @model_validator(mode="after")
    def _consistent(self) -> CatalogFile:
        _unique([loc.id for loc in self.locations], "location id")
        _unique([e.uid for loc in self.locations for e in loc.evses], "evse uid")
        _unique([s.station_id for s in self.stations], "station id")
        _unique(
            [(e.station_id, e.ocpp_evse_id) for loc in self.locations for e in loc.evses],
            "station_id + ocpp_evse_id",
        )
        return self


def _unique(values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what}: {v}")
        seen.add(v)


# --- records on the compacted topics ---------------------------------------------------------


def object_key(country_code: str, party_id: str, object_id: str) -> str:
    return f"{country_code}/{party_id}/{object_id}"


def token_key(country_code: str, party_id: str, uid: str, token_type: str) -> str:
    return f"{country_code}/{party_id}/{uid}/{token_type}"


def credential_key(station_id: str, owner: str) -> str:
    return f"{station_id}/{owner}"


class Record(Payload):
    """Payload of a reference record; tolerant of unknown fields like every payload."""

    record_key: str
    owner: str
    last_updated: AwareDatetime


class LocationRecord(Record):
    country_code: str
    party_id: str
    location: Location


class TariffRecord(Record):
    tariff: Tariff


class TokenRecord(Record):
    token: Token


class CredentialRecord(Record):
    station_id: str
    security_profile: int
    authorization_key_hash: str | None
    replaces_hash: str | None = None  # rotation: the key it superseded
