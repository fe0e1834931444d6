"""`voltstream cdr credit ID` through the real broker: credit + a new CDR priced with the fixed catalog.

The catalog's AC-STANDARD tariff (examples/catalog.yaml) bills ENERGY 0.39 per kWh (step 1 Wh,
19 % VAT) and PARKING_TIME 6.00 per hour (step 60 s, 19 % VAT). The session of make_session: 10 kWh
charging 09:00-10:00 UTC, then parked 10 minutes.
- As first billed (0.39): energy 3.90 (incl. 4.641) + parking 10/60 h x 6.00 = 1.00 (1.19)
  = 4.90 / 5.831.
- The operator fixes the energy price to 0.45 and re-bills by hand: credit -4.90 / -5.831; new CDR
  energy 10 x 0.45 = 4.50 (incl. 4.50 x 1.19 = 5.355) + parking 1.00 (1.19) = 5.50 / 6.545.
- Amendment v2 (12 kWh) afterwards, by the service: credit of the re-issued CDR -5.50 / -6.545;
  new CDR energy 12 x 0.45 = 5.40 (6.426) + parking 1.00 (1.19) = 6.40 / 7.616.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from libs.catalog.index import CatalogIndex
from libs.catalog.loader import load_catalog
from libs.catalog.publish import CatalogPublisher
from libs.events.codec import decode
from libs.events.producer import EventProducer
from libs.events.sessions import CdrRecord
from libs.tariffs.cdr import cdr_id, reissue_id
from services.billing.app import BillingService
from services.billing.cli import cdr_app
from services.billing.settings import BillingSettings
from tests.integration.billing.test_billing_service import (
    CATALOG,
    free_port,
    make_session,
    read_topic,
    wait_ready,
)
from voltstream.cli import app as voltstream_app

pytestmark = pytest.mark.kafka
SID = "8b0a2f6e-8f44-5b1e-9d0e-3f1f9a7e0101"
OLD_ENERGY = "{type: ENERGY, price: 0.39, vat: 19.0, step_size: 1}"


async def read_all_cdrs(settings) -> list[CdrRecord]:
    """Every record on `cdrs`, read to the end offsets of now (the CLI returns after acks=all)."""
    name = settings.topics().name("cdrs")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name))]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records: list[CdrRecord] = []
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            for recs in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(decode(r.value).payload for r in recs)
        return records
    finally:
        await consumer.stop()


def energy_price(service: BillingService) -> Decimal | None:
    tariff = service.index.tariff("DE", "VST", "AC-STANDARD")
    return None if tariff is None else Decimal(str(tariff.elements[0].price_components[0].price))


async def invoke(cli, args: list[str], env: dict[str, str]):
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def until(condition, what: str) -> None:
    for _ in range(300):  # bounded: the service follows the topics in the background
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


@pytest.mark.timeout(180)
async def test_manual_credit_reissues_with_the_fixed_catalog(kafka_settings, tmp_path):
    env = {"VOLTSTREAM_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
           "VOLTSTREAM_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
           "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(kafka_settings.station_partitions),
           "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(kafka_settings.other_partitions)}
    async with EventProducer(kafka_settings) as producer:
        await CatalogPublisher(producer, CatalogIndex()).apply(load_catalog(CATALOG))
        port = free_port()
        service = BillingService(kafka_settings, BillingSettings(health_host="127.0.0.1", health_port=port))
        await service.start()
        try:
            await wait_ready(port)
            v1 = make_session(1, 10.0, session_id=SID)
            await producer.send(v1)
            [first] = [decode(r.value).payload for r in await read_topic(kafka_settings, "cdrs", 1)]
            original = first.cdr
            assert original["id"] == cdr_id(SID, 1)
            assert original["total_cost"] == {"excl_vat": 4.9, "incl_vat": 5.831}

            # The operator fixes the energy price in the catalog file and applies it.
            text = CATALOG.read_text()
            assert text.count(OLD_ENERGY) == 1
            fixed = tmp_path / "catalog.yaml"
            fixed.write_text(text.replace(OLD_ENERGY, "{type: ENERGY, price: 0.45, vat: 19.0, step_size: 1}"))
            applied = await invoke(voltstream_app, ["catalog", "apply", str(fixed)], env)
            assert applied.exit_code == 0, applied.output
            assert "published tariffs DE/VST/AC-STANDARD" in applied.output and "1 published" in applied.output

            # Re-bill by hand: credit of the original + a new CDR priced with 0.45.
            result = await invoke(cdr_app, ["credit", original["id"]], env)
            assert result.exit_code == 0, result.output
            credit_id = original["id"] + "-C"
            new_id = reissue_id(SID, 1, credit_id)
            assert len(new_id) == 36 and new_id != original["id"]
            assert credit_id in result.output and new_id in result.output and "6.545" in result.output
            records = await read_all_cdrs(kafka_settings)
            assert [r.cdr_id for r in records] == [original["id"], credit_id, new_id]
            credit, new = records[1], records[2]
            assert credit.credit and credit.credit_reference_id == original["id"]
            assert credit.cdr["credit"] is True and credit.cdr["credit_reference_id"] == original["id"]
            assert credit.cdr["total_cost"] == {"excl_vat": -4.9, "incl_vat": -5.831}
            assert not new.credit and new.session_id == SID and new.session_version == 1
            assert new.cdr["id"] == new_id and "credit" not in new.cdr
            assert new.cdr["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.545}
            assert new.cdr["total_energy_cost"] == {"excl_vat": 4.5, "incl_vat": 5.355}
            assert new.cdr["total_parking_cost"] == {"excl_vat": 1, "incl_vat": 1.19}
            energy = new.cdr["tariffs"][0]["elements"][0]["price_components"][0]
            assert energy["type"] == "ENERGY" and Decimal(str(energy["price"])) == Decimal("0.45")
            assert new.cdr["session_id"] == SID and new.cdr["cdr_token"] == original["cdr_token"]

            # Once: the original is credited now.
            again = await invoke(cdr_app, ["credit", original["id"]], env)
            assert again.exit_code == 1 and "already credited" in again.output

            # The running service saw both: a re-delivery of v1 is skipped (no third CDR for it),
            # the amendment v2 credits the re-issued CDR (not the original again) and is priced
            # with the fixed tariff.
            await until(lambda: service.ledger.sessions[SID].standing is not None
                        and service.ledger.sessions[SID].standing.cdr_id == new_id, "service saw the re-issue")
            await until(lambda: energy_price(service) == Decimal("0.45"), "service saw the fixed tariff")
            await producer.send_many([v1, make_session(2, 12.0, amended=True, session_id=SID)])
            [*_, c2, n2] = [decode(r.value).payload for r in await read_topic(kafka_settings, "cdrs", 5)]
            records = await read_all_cdrs(kafka_settings)
            assert [r.cdr_id for r in records] == [original["id"], credit_id, new_id, new_id + "-C", cdr_id(SID, 2)]
            assert (c2.cdr_id, n2.cdr_id) == (new_id + "-C", cdr_id(SID, 2))
            assert c2.cdr["total_cost"] == {"excl_vat": -5.5, "incl_vat": -6.545}
            assert n2.cdr["total_cost"] == {"excl_vat": 6.4, "incl_vat": 7.616}

            # A session that cannot be priced any more: refused, and the credit is NOT issued.
            unpriced = tmp_path / "unpriced.yaml"
            unpriced.write_text(fixed.read_text().replace(
                "  - id: AC-STANDARD\n", '  - id: AC-STANDARD\n    start_date_time: "2030-01-01T00:00:00Z"\n'))
            applied = await invoke(voltstream_app, ["catalog", "apply", str(unpriced)], env)
            assert applied.exit_code == 0 and "published tariffs DE/VST/AC-STANDARD" in applied.output
            refused = await invoke(cdr_app, ["credit", cdr_id(SID, 2)], env)
            assert refused.exit_code == 1 and "no_applicable_tariff" in refused.output, refused.output
            assert len(await read_all_cdrs(kafka_settings)) == 5
            # Nor when the session left the sessions topic.
            await producer.tombstone("sessions", SID)
            refused = await invoke(cdr_app, ["credit", cdr_id(SID, 2)], env)
            assert refused.exit_code == 1 and "no final version" in refused.output, refused.output
            assert len(await read_all_cdrs(kafka_settings)) == 5

            # --no-reissue: the credit only.
            pure = await invoke(cdr_app, ["credit", cdr_id(SID, 2), "--no-reissue"], env)
            assert pure.exit_code == 0, pure.output
            assert cdr_id(SID, 2) + "-C" in pure.output and "re-issued" not in pure.output
            records = await read_all_cdrs(kafka_settings)
            assert [r.cdr_id for r in records[5:]] == [cdr_id(SID, 2) + "-C"]
            assert records[5].credit and records[5].cdr["total_cost"] == {"excl_vat": -6.4, "incl_vat": -7.616}
        finally:
            await service.stop()
