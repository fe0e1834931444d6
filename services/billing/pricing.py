"""A final session and the catalog -> its OCPI CDR, or the reason it cannot be billed."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from libs.catalog.index import CatalogIndex
from libs.catalog.models import Connector, Evse, LocationRecord, object_key
from libs.events.sessions import ChargingSession
from libs.tariffs import CompiledTariff, ImpossibleSession, compile_tariff, price_session
from libs.tariffs.cdr import build_cdr
from libs.tariffs.selection import select_tariff
from libs.tariffs.session_input import session_input


class Unbillable(Exception):
    """A session billing can never price: goes to dlq.billing with `reason`."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Pricer:
    def __init__(self, index: CatalogIndex):
        self.index = index
        self._compiled: dict[tuple[str, str], CompiledTariff] = {}

    def _tariff(self, cc: str, party: str, tariff_id: str) -> CompiledTariff | None:
        tariff = self.index.tariff(cc, party, tariff_id)
        if tariff is None:
            return None
        key = (object_key(cc, party, tariff_id), tariff.last_updated.isoformat())
        compiled = self._compiled.get(key)
        if compiled is None or compiled.tariff is not tariff:
            compiled = self._compiled[key] = compile_tariff(tariff)
        return compiled

    def _place(self, s: ChargingSession) -> tuple[LocationRecord, Evse, Connector]:
        locations = self.index.records["locations"]
        rec: LocationRecord | None = None
        if s.location_id and s.country_code and s.party_id:
            rec = locations.get(object_key(s.country_code, s.party_id, s.location_id))
        if rec is None and s.evse_id is not None:
            ref = self.index.evse(s.station_id, s.evse_id)
            if ref is not None:
                rec = locations.get(object_key(ref.country_code, ref.party_id, ref.location_id))
        if rec is None:
            raise Unbillable("unknown_location", f"station {s.station_id} evse {s.evse_id} location {s.location_id}")
        evse = next((e for e in rec.location.evses if e.uid == s.evse_uid), None) or next(
            (e for e in rec.location.evses if e.station_id == s.station_id and e.ocpp_evse_id == s.evse_id), None)
        if evse is None:
            raise Unbillable("unknown_evse", f"{s.evse_uid or s.evse_id} at {rec.location.id}")
        connector = next((c for c in evse.connectors if c.id == s.connector_uid), None) or next(
            (c for c in evse.connectors if s.connector_id is None or c.ocpp_connector_id == s.connector_id), None)
        if connector is None:
            raise Unbillable("unknown_connector", f"{s.connector_uid or s.connector_id} at {evse.uid}")
        return rec, evse, connector

    def cdr(self, s: ChargingSession) -> dict[str, Any]:
        if s.cdr_token is None:
            raise Unbillable("missing_token", "a CDR needs the token that started the session")
        rec, evse, connector = self._place(s)
        tariff_ids = s.tariff_ids or connector.tariff_ids
        candidates = [t for t in (self._tariff(rec.country_code, rec.party_id, i) for i in tariff_ids) if t]
        tariff = select_tariff(candidates, s.start_date_time, s.cdr_token.type)
        if tariff is None:
            raise Unbillable("no_applicable_tariff", f"tariff_ids {tariff_ids} at {s.start_date_time.isoformat()}")
        try:
            priced = price_session(tariff, session_input(s, rec.location.time_zone))
        except ImpossibleSession as exc:
            raise Unbillable(exc.reason, exc.detail) from exc
        try:
            return build_cdr(
                session=s, priced=priced, tariff=tariff.tariff, location=rec.location,
                country_code=rec.country_code, party_id=rec.party_id, evse=evse, connector=connector,
                last_updated=s.last_updated,
            )
        except (ValidationError, ValueError) as exc:
            raise Unbillable("invalid_cdr", str(exc)[:1000]) from exc
