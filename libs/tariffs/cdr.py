"""OCPI 2.2.1 CDR assembly (mod_cdrs.asciidoc): a priced session as the CDR partners receive,
and the credit CDR that cancels one. Pure: the caller passes the catalog objects.

- id: uuid5 of (session id, session version): "Normal (non-credit) CDRs SHALL only have an ID
  with a maximum length of 36" -> 36 characters, the same for the same session version.
- credit: "it can be the id of the original CDR with something appended like for example: -C"
  (36 + 2 <= 39); "The Credit CDR will contain all the data of the original CDR. Only the values in
  the total_cost field SHALL contain the negative amounts of the original CDR."
- re-issue (`voltstream cdr credit ID`): the session priced again after its CDR was credited by
  hand gets uuid5 of (session id, session version, credit CDR id): 36 characters, never the id of
  the session version's own CDR (three fields, not two), the same for the same credit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from libs.catalog.models import Connector, Evse, Location
from libs.events.sessions import ChargingSession
from libs.ocpi.models import CDR, Tariff
from libs.ocpi.types import format_datetime
from libs.tariffs.model import Cost, PricedPeriod, PricedSession, SegmentState
from libs.tariffs.money import SECONDS_PER_HOUR, WH_PER_KWH, round4

CDR_NAMESPACE = uuid.UUID("5a1f0f5e-6c2b-5b7e-9f57-0c7d1b1c0d17")
CREDIT_SUFFIX = "-C"


def cdr_id(session_id: str, version: int) -> str:
    """Deterministic: the same session version always gets the same CDR id (36 characters)."""
    return str(uuid.uuid5(CDR_NAMESPACE, f"{session_id}\x1f{version}"))


def credit_id(original_id: str) -> str:
    return original_id + CREDIT_SUFFIX


def reissue_id(session_id: str, version: int, credit_cdr_id: str) -> str:
    """Id of the CDR issued again for a session version after `credit_cdr_id` credited its CDR.

    Deterministic (a retry of the same re-issue yields the same id) and 36 characters like every
    non-credit CDR; distinct from cdr_id(session_id, version), which is already used.
    """
    return str(uuid.uuid5(CDR_NAMESPACE, f"{session_id}\x1f{version}\x1f{credit_cdr_id}"))


def _price(cost: Cost) -> dict[str, Any]:
    return {"excl_vat": cost.excl_vat, "incl_vat": cost.incl_vat}


def _hours(seconds) -> Any:
    return round4(seconds / SECONDS_PER_HOUR)


def _period(p: PricedPeriod, tariff_id: str) -> dict[str, Any] | None:
    dims: list[dict[str, Any]] = []
    if p.state is None:
        if p.duration_s > 0:
            dims.append({"type": "RESERVATION_TIME", "volume": _hours(p.duration_s)})
    else:
        dims.append({"type": "ENERGY", "volume": round4(p.energy_wh / WH_PER_KWH)})
        if p.duration_s > 0:
            kind = "PARKING_TIME" if p.state is SegmentState.IDLE else "TIME"
            dims.append({"type": kind, "volume": _hours(p.duration_s)})
        for kind, value in (("MAX_POWER", p.max_power_kw), ("MIN_POWER", p.min_power_kw),
                            ("MAX_CURRENT", p.max_current_a), ("MIN_CURRENT", p.min_current_a)):
            if value is not None:
                dims.append({"type": kind, "volume": round4(value)})
        if p.duration_s == 0 and p.energy_wh == 0:
            return None
    if not dims:
        return None
    return {"start_date_time": p.start, "dimensions": dims, "tariff_id": tariff_id}


def signed_data(values: list[dict[str, Any]]) -> dict[str, Any] | None:
    """OCPI SignedData from the session's signed meter values (see docs/tariffs.md).

    Accepts OCPI-shaped entries (a SignedData object, or SignedValue objects with the encoding
    beside them) and OCPP 2.0.1 signedMeterValue objects (signedMeterData, encodingMethod,
    publicKey, with an optional `context`/`nature`).
    """
    if not values:
        return None
    encoding, version, public_key, url = None, None, None, None
    signed_values: list[dict[str, Any]] = []
    for v in values:
        if "signed_values" in v:
            encoding = encoding or v.get("encoding_method")
            version = version or v.get("encoding_method_version")
            public_key = public_key or v.get("public_key")
            url = url or v.get("url")
            signed_values.extend(v["signed_values"])
        elif "signedMeterData" in v:
            encoding = encoding or v.get("encodingMethod")
            public_key = public_key or v.get("publicKey") or None
            nature = v.get("nature") or {"Transaction.Begin": "Start", "Transaction.End": "End"}.get(
                v.get("context", ""), "Intermediate")
            signed_values.append({"nature": nature, "plain_data": v.get("plain_data", ""),
                                  "signed_data": v["signedMeterData"]})
        else:
            encoding = encoding or v.get("encoding_method")
            public_key = public_key or v.get("public_key")
            signed_values.append({k: v[k] for k in ("nature", "plain_data", "signed_data") if k in v})
    out: dict[str, Any] = {"encoding_method": encoding or "OCMF", "signed_values": signed_values}
    if version is not None:
        out["encoding_method_version"] = version
    if public_key:
        out["public_key"] = public_key
    if url:
        out["url"] = url
    return out


def build_cdr(
    *,
    session: ChargingSession,
    priced: PricedSession,
    tariff: Tariff,
    location: Location,
    country_code: str,
    party_id: str,
    evse: Evse,
    connector: Connector,
    last_updated: datetime,
) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR of one final session version, validated against libs.ocpi.models.CDR."""
    if session.cdr_token is None:
        raise ValueError("a CDR needs the token that started the session (cdr_token)")
    periods = [x for x in (_period(p, tariff.id) for p in priced.periods) if x is not None]
    if not periods:  # "+": at least one; a zero-length session still had its (empty) period
        periods = [{"start_date_time": session.start_date_time,
                    "dimensions": [{"type": "ENERGY", "volume": 0}], "tariff_id": tariff.id}]
    start = session.start_date_time
    if priced.periods and priced.periods[0].state is None:  # "or in-case of a reservation ... the start of the reservation"
        start = priced.periods[0].start
    end = session.end_date_time or priced.periods[-1].end
    raw: dict[str, Any] = {
        "country_code": country_code,
        "party_id": party_id,
        "id": cdr_id(session.session_id, session.version),
        "start_date_time": start,
        "end_date_time": end,
        "session_id": session.session_id,
        "cdr_token": session.cdr_token.model_dump(),
        "auth_method": session.auth_method.value,
        "authorization_reference": session.authorization_reference,
        "cdr_location": {
            "id": location.id, "name": location.name, "address": location.address, "city": location.city,
            "postal_code": location.postal_code, "state": location.state, "country": location.country,
            "coordinates": location.coordinates.model_dump(),
            "evse_uid": evse.uid,
            "evse_id": evse.evse_id or evse.uid,
            "connector_id": connector.id,
            "connector_standard": connector.standard, "connector_format": connector.format,
            "connector_power_type": connector.power_type,
        },
        "currency": priced.currency,
        "tariffs": [tariff.to_ocpi()],
        "charging_periods": periods,
        "signed_data": signed_data(session.signed_data),
        "total_cost": _price(priced.total),
        "total_fixed_cost": _price(priced.fixed) if priced.fixed else None,
        "total_energy": round4(priced.total_energy_kwh),
        "total_energy_cost": _price(priced.energy) if priced.energy else None,
        "total_time": round4(priced.total_time_h),
        "total_time_cost": _price(priced.time) if priced.time else None,
        "total_parking_time": round4(priced.total_parking_h),
        "total_parking_cost": _price(priced.parking) if priced.parking else None,
        "total_reservation_cost": _price(priced.reservation) if priced.reservation else None,
        "last_updated": last_updated,
    }
    return CDR.model_validate(raw).to_ocpi()


def credit_cdr(original: dict[str, Any], last_updated: datetime) -> dict[str, Any]:
    """The credit CDR of `original` (an OCPI CDR as issued): a new object, nothing edited."""
    if original.get("credit"):
        raise ValueError("a credit CDR cannot itself be credited")
    credit = dict(original)
    credit["id"] = credit_id(original["id"])
    credit["credit"] = True
    credit["credit_reference_id"] = original["id"]
    total = original["total_cost"]
    credit["total_cost"] = {k: -v for k, v in total.items()}
    credit["last_updated"] = format_datetime(last_updated)
    return CDR.model_validate(credit).to_ocpi()


def reissued_cdr(cdr: dict[str, Any], new_id: str, last_updated: datetime) -> dict[str, Any]:
    """`cdr` (as build_cdr made it) under the id and time of a re-issue: a new object."""
    out = dict(cdr)
    out["id"] = new_id
    out["last_updated"] = format_datetime(last_updated)
    return CDR.model_validate(out).to_ocpi()
