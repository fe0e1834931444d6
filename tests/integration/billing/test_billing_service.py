"""Billing through the real broker: catalog on its topics, sessions in, CDRs out.

Expected costs, by hand, for the catalog's AC-STANDARD tariff (examples/catalog.yaml): ENERGY 0.39
per kWh, step 1 Wh, 19 % VAT; PARKING_TIME 6.00 per hour, step 60 s, 19 % VAT.
- v1: 10 kWh charging 09:00-10:00 UTC, parked 10 min: energy 3.90 (incl. 4.641), parking
  10/60 h x 6.00 = 1.00 (1.19); total 4.90 / 5.831.
- v2 (amended, 12 kWh): energy 4.68 (5.5692) + parking 1.00 (1.19) = 5.68 / 6.7592.
mod_cdrs.asciidoc, Credit CDRs: "The Credit CDR will contain all the data of the original CDR.
Only the values in the total_cost field SHALL contain the negative amounts of the original CDR."
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from libs.catalog.index import CatalogIndex
from libs.catalog.loader import load_catalog
from libs.catalog.publish import CatalogPublisher
from libs.events.codec import decode
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.sessions import ChargingSession, SessionUpdated
from libs.tariffs.cdr import cdr_id
from services.billing.app import BillingService
from services.billing.cli import cdr_app
from services.billing.settings import BillingSettings

pytestmark = pytest.mark.kafka
CATALOG = Path(__file__).parents[3] / "examples" / "catalog.yaml"
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
SIGNED = {"encoding_method": "OCMF", "encoding_method_version": 1, "public_key": "MFkwEw",
          "signed_values": [{"nature": "Start", "plain_data": "OCMF|start", "signed_data": "c2lnbjE="},
                            {"nature": "End", "plain_data": "OCMF|end", "signed_data": "c2lnbjI="}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_session(version: int, kwh: float, *, final: bool = True, amended: bool = False,
                 session_id: str = "8b0a2f6e-8f44-5b1e-9d0e-3f1f9a7e0001", tariff_ids=("AC-STANDARD",)):
    end_charge = T0 + timedelta(hours=1)
    end = end_charge + timedelta(minutes=10)
    return SessionUpdated.create(source=Source.SESSIONS, payload=ChargingSession(
        session_id=session_id, version=version, station_id="BER-AC-001", evse_id=1, connector_id=1,
        transaction_ref="4242", country_code="DE", party_id="VST", location_id="LOC-BER-01",
        evse_uid="BER01-AC001-1", connector_uid="1", currency="EUR", tariff_ids=list(tariff_ids),
        cdr_token={"uid": "04A1B2C3D4E5F6", "type": "RFID", "contract_id": "DE-VST-C00000001-A",
                   "country_code": "DE", "party_id": "VST"},
        auth_method="WHITELIST", authorization_reference="AUTH-0001",
        start_date_time=T0, end_date_time=end if final else None, kwh=kwh,
        charging_periods=[
            {"start_date_time": T0, "end_date_time": end_charge, "state": "charging", "energy_wh": kwh * 1000,
             "max_power_w": 11000.0, "min_power_w": 9000.0},
            {"start_date_time": end_charge, "end_date_time": end, "state": "idle"},
        ],
        status="COMPLETED" if final else "ACTIVE", last_updated=end + timedelta(minutes=version),
        final=final, amended=amended, signed_data=[SIGNED],
    ))


async def read_topic(settings, base: str, count: int, timeout: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(settings.topics().name(base) if not base.startswith("dlq.") else
                                settings.topics().dlq(base.removeprefix("dlq.")),
                                bootstrap_servers=settings.bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def wait_ready(port: int, timeout: float = 60.0) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "billing never became ready"
            await asyncio.sleep(0.2)


@pytest.mark.timeout(150)
async def test_sessions_to_cdrs_with_amendment_dlq_and_manual_credit(kafka_settings):
    async with EventProducer(kafka_settings) as producer:
        await CatalogPublisher(producer, CatalogIndex()).apply(load_catalog(CATALOG))
        port = free_port()
        service = BillingService(kafka_settings, BillingSettings(health_host="127.0.0.1", health_port=port))
        await service.start()
        try:
            await wait_ready(port)
            v1 = make_session(1, 10.0)
            await producer.send_many([
                make_session(0, 4.0, final=False),  # not final: never billed
                v1, v1,  # a re-delivery: still one CDR
                make_session(1, 3.0, session_id="8b0a2f6e-8f44-5b1e-9d0e-3f1f9a7e0002", tariff_ids=("NOPE",)),
            ])
            [first] = [decode(r.value) for r in await read_topic(kafka_settings, "cdrs", 1)]
            cdr = first.payload.cdr
            assert first.payload.cdr_id == cdr["id"] == cdr_id(v1.payload.session_id, 1) and len(cdr["id"]) <= 36
            assert cdr["total_cost"] == {"excl_vat": 4.9, "incl_vat": 5.831}
            assert cdr["total_energy_cost"] == {"excl_vat": 3.9, "incl_vat": 4.641}
            assert cdr["total_parking_cost"] == {"excl_vat": 1, "incl_vat": 1.19}
            assert cdr["total_energy"] == 10 and cdr["total_parking_time"] == 0.1667 and cdr["total_time"] == 1.1667
            assert cdr["cdr_location"]["evse_id"] == "DE*VST*EBER01001*1"
            assert cdr["cdr_location"]["address"] == "Alexanderstrasse 7" and cdr["cdr_location"]["connector_id"] == "1"
            assert cdr["cdr_token"]["uid"] == "04A1B2C3D4E5F6" and cdr["auth_method"] == "WHITELIST"
            assert cdr["authorization_reference"] == "AUTH-0001"
            assert [t["id"] for t in cdr["tariffs"]] == ["AC-STANDARD"]
            assert cdr["signed_data"]["encoding_method"] == "OCMF" and len(cdr["signed_data"]["signed_values"]) == 2
            dims = [{d["type"]: d["volume"] for d in p["dimensions"]} for p in cdr["charging_periods"]]
            assert dims == [{"ENERGY": 10, "TIME": 1, "MAX_POWER": 11, "MIN_POWER": 9},
                            {"ENERGY": 0, "PARKING_TIME": 0.1667}]

            # The unbillable session went to dlq.billing with its reason.
            [dead] = await read_topic(kafka_settings, "dlq.billing", 1)
            assert dict(dead.headers)["dlq.reason"] == b"no_applicable_tariff"

            # A newer version that bills the same (a fact changing nothing, e.g. a boot after the
            # session's end): nothing credited, nothing issued.
            await producer.send_many([make_session(2, 10.0)])
            # Amendment: credit CDR for v1, new CDR for v3; a stale v1 afterwards changes nothing.
            await producer.send_many([make_session(3, 12.0, amended=True), v1])
            records = [decode(r.value).payload for r in await read_topic(kafka_settings, "cdrs", 3)]
            assert len(records) == 3
            credit, new = records[1].cdr, records[2].cdr
            assert credit["id"] == cdr["id"] + "-C" and credit["credit"] is True
            assert credit["credit_reference_id"] == cdr["id"]
            assert credit["total_cost"] == {"excl_vat": -4.9, "incl_vat": -5.831}
            assert {k: v for k, v in credit.items() if k not in ("id", "credit", "credit_reference_id",
                                                                 "total_cost", "last_updated")} == \
                   {k: v for k, v in cdr.items() if k not in ("id", "total_cost", "last_updated")}
            assert new["id"] == cdr_id(v1.payload.session_id, 3) and "credit" not in new
            assert new["total_cost"] == {"excl_vat": 5.68, "incl_vat": 6.7592}

            # By hand: `voltstream cdr credit ID --no-reissue` (a pure credit), once; the re-issue is
            # tested in test_manual_rebill.py.
            env = {"VOLTSTREAM_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
                   "VOLTSTREAM_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
                   "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(kafka_settings.station_partitions),
                   "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(kafka_settings.other_partitions)}
            result = await asyncio.to_thread(CliRunner().invoke, cdr_app, ["credit", new["id"], "--no-reissue"], env=env)
            assert result.exit_code == 0, result.output
            assert "re-issued" not in result.output
            again = await asyncio.to_thread(CliRunner().invoke, cdr_app, ["credit", new["id"]], env=env)
            assert again.exit_code == 1 and "already credited" in again.output
            records = [decode(r.value).payload for r in await read_topic(kafka_settings, "cdrs", 4)]
            manual = records[3].cdr
            assert manual["id"] == new["id"] + "-C" and manual["total_cost"] == {"excl_vat": -5.68, "incl_vat": -6.7592}
            for _ in range(100):  # the running service follows cdrs and sees the manual credit
                if new["id"] in service.ledger.credited:
                    break
                await asyncio.sleep(0.1)
            assert new["id"] in service.ledger.credited

            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
            assert 'voltstream_billing_sessions_rejected_total{reason="no_applicable_tariff"}' in text
            assert 'voltstream_billing_sessions_skipped_total{why="unchanged"} 1.0' in text
        finally:
            await service.stop()
