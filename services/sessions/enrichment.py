"""What the catalog adds to a session: OCPI location / EVSE / connector ids, currency, tariffs, and
the full OCPI CdrToken. Reads the in-memory CatalogIndex the worker keeps following."""

from __future__ import annotations

from dataclasses import dataclass

from libs.catalog.index import CatalogIndex
from libs.events.sessions import SessionToken

# 2.0.1 IdTokenEnumType -> OCPI 2.2.1 TokenType; a 1.6 idTag (type None) is looked up by uid only.
OCPI_TOKEN_TYPES = {
    "ISO14443": "RFID", "ISO15693": "RFID", "Central": "APP_USER", "eMAID": "OTHER",
    "KeyCode": "OTHER", "Local": "OTHER", "MacAddress": "OTHER", "NoAuthorization": "OTHER",
}


@dataclass(frozen=True)
class Place:
    country_code: str
    party_id: str
    location_id: str | None = None
    evse_uid: str | None = None
    connector_uid: str | None = None
    currency: str | None = None
    tariff_ids: tuple[str, ...] = ()


class Enricher:
    def __init__(self, index: CatalogIndex, country_code: str, party_id: str, currency: str):
        self.index = index
        self.country_code, self.party_id, self.currency = country_code, party_id, currency

    def place(self, station_id: str, evse_id: int | None, connector_id: int | None) -> Place:
        ref = self.index.evse(station_id, evse_id) if evse_id is not None else None
        if ref is None:
            return Place(self.country_code, self.party_id, currency=self.currency)
        connector = ref.connector(connector_id) or ref.connector(None)
        tariff_ids = tuple(connector.tariff_ids or ()) if connector else ()
        currency = self.currency
        for tariff_id in tariff_ids:
            tariff = self.index.tariff(ref.country_code, ref.party_id, tariff_id)
            if tariff is not None:
                currency = tariff.currency
                break
        return Place(ref.country_code, ref.party_id, ref.location_id, ref.evse_uid,
                     connector.id if connector else None, currency, tariff_ids)

    def token(self, uid: str, ocpp_type: str | None, place: Place) -> SessionToken:
        """The OCPI CdrToken; an unknown token falls back to its uid under the operator's ids."""
        ocpi_type = OCPI_TOKEN_TYPES.get(ocpp_type) if ocpp_type else None
        token = self.index.token(uid, ocpi_type) or (self.index.token(uid) if ocpi_type else None)
        if token is not None:
            return SessionToken(uid=token.uid, type=str(getattr(token.type, "value", token.type)), contract_id=token.contract_id,
                                country_code=token.country_code, party_id=token.party_id)
        return SessionToken(uid=uid, type=ocpi_type or "RFID", contract_id=uid,
                            country_code=place.country_code, party_id=place.party_id)
