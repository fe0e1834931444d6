"""Shared pieces of the OCPI integration tests: events, the service on a real port, waiting."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.events.reference import LocationPublished, TariffPublished
from libs.events.sessions import CdrIssued, SessionUpdated
from libs.events.station import GatewayLease, StationPresence, StationStatusChanged
from services.ocpi.app import OcpiService
from services.ocpi.readmodel import INPUT_TOPICS
from services.ocpi.settings import OcpiSettings
from tests.integration.ocpi.emsp_app import free_port

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[2] / "unit" / "ocpi_examples"


def connector(cid="1", **kw):
    return {"id": cid, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
            "max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000, "tariff_ids": ["T1"], **kw}


def location(loc_id: str, evses: list[dict], *, removed=False, last_updated=T0, **kw) -> LocationPublished:
    loc = {"id": loc_id, "name": f"Site {loc_id}", "address": "Main 1", "city": "Berlin", "postal_code": "10178",
           "country": "DEU", "time_zone": "Europe/Berlin", "parking_type": "PARKING_GARAGE",
           "facilities": ["MALL"], "coordinates": {"latitude": "52.521880", "longitude": "13.413220"},
           "evses": evses, "removed": removed, **kw}
    return LocationPublished.create(source="catalog", occurred_at=last_updated, payload={
        "record_key": f"DE/VST/{loc_id}", "owner": "catalog", "last_updated": last_updated,
        "country_code": "DE", "party_id": "VST", "location": loc})


def evse(uid: str, station: str, n: int, **kw) -> dict:
    return {"uid": uid, "evse_id": f"DE*VST*E{uid}", "station_id": station, "ocpp_evse_id": n,
            "capabilities": ["RFID_READER"], "connectors": [connector()], **kw}


def tariff(tid="T1", price="0.39", last_updated=T0) -> TariffPublished:
    return TariffPublished.create(source="catalog", occurred_at=last_updated, payload={
        "record_key": f"DE/VST/{tid}", "owner": "catalog", "last_updated": last_updated,
        "tariff": {"country_code": "DE", "party_id": "VST", "id": tid, "currency": "EUR", "last_updated": last_updated,
                   "elements": [{"price_components": [{"type": "ENERGY", "price": price, "vat": "19", "step_size": 1}]}]}})


def online(station: str, instance="gw-1") -> list:
    now = datetime.now(UTC)
    return [
        GatewayLease.create(source="gateway", payload={"instance_id": instance, "renewed_at": now,
                                                       "expires_at": now + timedelta(hours=1)}),
        StationPresence.create(station_id=station, source="gateway", payload={
            "online": True, "gateway_instance": instance, "connection_id": f"c-{station}", "since": now}),
    ]


def offline(station: str, instance="gw-1") -> StationPresence:
    return StationPresence.create(station_id=station, source="gateway", payload={
        "online": False, "gateway_instance": instance, "connection_id": f"c-{station}-off",
        "since": datetime.now(UTC)})


def status(station: str, evse_id: int, st: str, at: datetime, detail=None, connector_id=1) -> StationStatusChanged:
    return StationStatusChanged.create(station_id=station, source="ocpp1.6", occurred_at=at, payload={
        "evse_id": evse_id, "connector_id": connector_id if evse_id else None, "status": st, "detail": detail})


def session(sid: str, version: int, *, party=("NL", "EMS"), status="ACTIVE", kwh="1.5", at=None,
            end=None) -> SessionUpdated:
    at = at or T0 + timedelta(minutes=version)
    return SessionUpdated.create(source="sessions", payload={
        "session_id": sid, "version": version, "station_id": "CS1", "evse_id": 1, "connector_id": 1,
        "transaction_ref": "42", "country_code": "DE", "party_id": "VST", "location_id": "LOC1",
        "evse_uid": "E1", "connector_uid": "1", "currency": "EUR", "tariff_ids": ["T1"],
        "cdr_token": {"uid": "04A1B2", "type": "RFID", "contract_id": f"{party[0]}-{party[1]}-C1",
                      "country_code": party[0], "party_id": party[1]},
        "start_date_time": T0, "end_date_time": end, "kwh": kwh, "status": status, "last_updated": at,
        "charging_periods": [{"start_date_time": T0, "end_date_time": at, "state": "charging",
                              "energy_wh": float(kwh) * 1000, "max_power_w": 11000.0}]})


def cdr(cdr_id: str, *, party=("NL", "EMS"), last_updated="2026-01-10T10:00:00Z") -> CdrIssued:
    doc = copy.deepcopy(json.loads((EXAMPLES / "cdr_example.json").read_text()))
    doc.update(country_code="DE", party_id="VST", id=cdr_id, last_updated=last_updated)
    doc["cdr_token"].update(country_code=party[0], party_id=party[1])
    return CdrIssued.create(source="billing", payload={"cdr_id": cdr_id, "session_id": "s1", "session_version": 3,
                                                       "cdr": doc})


def ocpi_settings(tmp_path: Path, **kw) -> OcpiSettings:
    port = free_port()
    base = dict(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}",
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'ocpi.db'}", max_page_limit=3,
                push_interval_s=0.05, push_backoff_min_s=0.05, push_backoff_max_s=0.3, presence_sweep_s=0.2)
    base.update(kw)
    return OcpiSettings(**base)


async def start_service(settings: OcpiSettings, kafka) -> OcpiService:
    svc = OcpiService(settings, kafka)
    await svc.start()
    return svc


async def until(predicate, timeout: float = 60.0, interval: float = 0.05):
    """Poll an (async or sync) predicate until truthy; returns its value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def settled(svc: OcpiService, timeout: float = 60.0) -> None:
    """Wait until the read model holds every event produced so far (its consumer group committed
    up to the current end of each input topic; it commits only after a batch is written), then
    bring the presence state up to date with one sweep. Event-driven instead of a fixed sleep:
    under machine load, consuming can take far longer than usual."""
    kafka = svc.kafka
    probe = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=svc.group_id, enable_auto_commit=False)
    await probe.start()
    try:
        tps = []
        for base in INPUT_TOPICS:
            name = kafka.topics().name(base)
            await probe._client.force_metadata_update()
            tps += [TopicPartition(name, p) for p in probe.partitions_for_topic(name) or ()]
        ends = await probe.end_offsets(tps)

        async def committed_to_end() -> bool:
            for tp in tps:
                if ends[tp] and (await probe.committed(tp) or 0) < ends[tp]:
                    return False
            return True
        await until(committed_to_end, timeout=timeout, interval=0.1)
    finally:
        await probe.stop()
    await svc.readmodel.sweep_presence()


async def drained(svc: OcpiService, timeout: float = 60.0) -> None:
    """Wait until the pusher has nothing pending for any partner."""
    async def empty() -> bool:
        return all(p["pending"] == 0 for p in await svc.pusher.state())
    await until(empty, timeout=timeout)
