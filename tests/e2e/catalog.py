"""The e2e catalog: 10 stations (both OCPP versions) on two sites, two simple tariffs.

Tariffs are chosen so the test can price every CDR by hand, independently of libs/tariffs:
- E2E-ENERGY: ENERGY 0.35 EUR/kWh, VAT 19 %, step_size 1 (billed per Wh);
- E2E-FLAT:   FLAT 1.50 EUR (VAT 10 %) + ENERGY 0.45 EUR/kWh (VAT 10 %), step_size 1.
Tokens belong to the test eMSP's party (NL/EMS), so the eMSP sees the sessions and CDRs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

from libs.catalog.credentials import hash_key

V16, V201 = "ocpp1.6", "ocpp2.0.1"
TAGS = ("04E2E0000000A1", "04E2E0000000A2")
EMSP_PARTY = ("NL", "EMS")
TARIFFS = {
    "E2E-ENERGY": {"flat": None, "energy": (Decimal("0.35"), Decimal("19"))},
    "E2E-FLAT": {"flat": (Decimal("1.50"), Decimal("10")), "energy": (Decimal("0.45"), Decimal("10"))},
}


@dataclass(frozen=True)
class StationSpec:
    station_id: str
    protocol: str
    key: str
    location_id: str
    evse_uid: str
    tariff_id: str
    home: int  # index of the gateway replica the station connects to first


def stations(n: int = 10, prefix: str = "E2E", replicas: int = 2) -> list[StationSpec]:
    per_site = (n + 1) // 2
    out = []
    for i in range(n):
        sid = f"{prefix}-{i:03d}"
        out.append(StationSpec(
            station_id=sid, protocol=V16 if i % 2 == 0 else V201, key=f"e2e-key-{sid.lower()}-0123456789",
            location_id=f"LOC-{prefix}-{'A' if i < per_site else 'B'}", evse_uid=f"{sid}-1",
            tariff_id="E2E-ENERGY" if i % 2 == 0 else "E2E-FLAT", home=i * replicas // n))
    return out


def catalog_yaml(specs: list[StationSpec]) -> dict:
    locations: dict[str, dict] = {}
    for s in specs:
        loc = locations.setdefault(s.location_id, {
            "id": s.location_id, "name": f"Site {s.location_id}", "address": "Teststrasse 1", "city": "Berlin",
            "postal_code": "10115", "country": "DEU",
            "coordinates": {"latitude": "52.520000", "longitude": "13.405000"}, "time_zone": "Europe/Berlin",
            "parking_type": "ON_STREET", "opening_times": {"twentyfourseven": True}, "evses": []})
        loc["evses"].append({
            "uid": s.evse_uid, "station_id": s.station_id, "ocpp_evse_id": 1, "capabilities": ["RFID_READER"],
            "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                            "max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000,
                            "tariff_ids": [s.tariff_id]}]})
    return {
        "operator": {"country_code": "DE", "party_id": "VST", "name": "Voltstream E2E CPO", "currency": "EUR"},
        "locations": list(locations.values()),
        "stations": [{"station_id": s.station_id, "security_profile": 1, "authorization_key_hash": hash_key(s.key)}
                     for s in specs],
        "tariffs": [
            {"id": "E2E-ENERGY", "type": "REGULAR", "elements": [
                {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 19.0, "step_size": 1}]}]},
            {"id": "E2E-FLAT", "type": "REGULAR", "elements": [
                {"price_components": [{"type": "FLAT", "price": 1.50, "vat": 10.0, "step_size": 1}]},
                {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 10.0, "step_size": 1}]}]},
        ],
        "tokens": [{"uid": tag, "type": "RFID", "contract_id": f"NL-EMS-C0000000{i}-E", "country_code": EMSP_PARTY[0],
                    "party_id": EMSP_PARTY[1], "valid": True, "whitelist": "ALWAYS"} for i, tag in enumerate(TAGS)],
    }


def write_catalog(path: Path, specs: list[StationSpec]) -> Path:
    path.write_text(yaml.safe_dump(catalog_yaml(specs), sort_keys=False))
    return path


def _r4(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def expected_cost(tariff_id: str, energy_wh: int) -> dict[str, Decimal]:
    """Price a session by hand (docs/tariffs.md "Money"): every field, excl. and incl. VAT, is its
    exact amount rounded once to 4 decimals half up; the total is rounded from the exact sum of the
    categories, not summed from the rounded ones. step_size 1 on ENERGY means whole Wh, which our
    integer readings already are."""
    t = TARIFFS[tariff_id]
    kwh = Decimal(energy_wh) / 1000
    price, vat = t["energy"]
    energy_excl, energy_incl = kwh * price, kwh * price * (1 + vat / 100)
    fixed_excl = fixed_incl = Decimal(0)
    if t["flat"]:
        fprice, fvat = t["flat"]
        fixed_excl, fixed_incl = fprice, fprice * (1 + fvat / 100)
    return {"energy_excl": _r4(energy_excl), "energy_incl": _r4(energy_incl), "fixed_excl": _r4(fixed_excl),
            "fixed_incl": _r4(fixed_incl), "total_excl": _r4(energy_excl + fixed_excl),
            "total_incl": _r4(energy_incl + fixed_incl)}
