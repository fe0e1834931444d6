"""Reference data records on the compacted topics locations, tariffs, tokens, station-credentials.

The Kafka key is the record key; a tombstone (null value) removes a record (tariffs, tokens,
credentials). Locations, EVSEs and connectors are never removed, only marked `removed`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from libs.catalog.models import CredentialRecord, LocationRecord, TariffRecord, TokenRecord
from libs.events.envelope import Event

_IDENTITY = ("payload.record_key", "payload.owner", "payload.last_updated")


class LocationPublished(Event):
    TYPE: ClassVar[str] = "catalog.location"
    TOPIC: ClassVar[str] = "locations"
    IDENTITY: ClassVar[tuple[str, ...]] = _IDENTITY
    KEY: ClassVar[str] = "record_key"
    type: Literal["catalog.location"] = "catalog.location"
    payload: LocationRecord


class TariffPublished(Event):
    TYPE: ClassVar[str] = "catalog.tariff"
    TOPIC: ClassVar[str] = "tariffs"
    IDENTITY: ClassVar[tuple[str, ...]] = _IDENTITY
    KEY: ClassVar[str] = "record_key"
    type: Literal["catalog.tariff"] = "catalog.tariff"
    payload: TariffRecord


class TokenPublished(Event):
    TYPE: ClassVar[str] = "catalog.token"
    TOPIC: ClassVar[str] = "tokens"
    IDENTITY: ClassVar[tuple[str, ...]] = _IDENTITY
    KEY: ClassVar[str] = "record_key"
    type: Literal["catalog.token"] = "catalog.token"
    payload: TokenRecord


class CredentialPublished(Event):
    TYPE: ClassVar[str] = "catalog.station_credential"
    TOPIC: ClassVar[str] = "station-credentials"
    IDENTITY: ClassVar[tuple[str, ...]] = _IDENTITY
    KEY: ClassVar[str] = "record_key"
    type: Literal["catalog.station_credential"] = "catalog.station_credential"
    payload: CredentialRecord
