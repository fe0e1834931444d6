"""Catalog apply → compacted topics → catalog index, through the real broker and the CLI."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from libs.catalog.credentials import hash_key, verify_key
from libs.catalog.index import CatalogIndex, short_alias
from libs.catalog.loader import EPOCH, load_catalog, parse_catalog
from libs.catalog.models import CredentialRecord, TokenRecord
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.reference import CredentialPublished, TokenPublished
from libs.ocpi.models import Token
from voltstream.cli import app

pytestmark = pytest.mark.kafka
EXAMPLE = Path(__file__).parents[2] / "examples" / "catalog.yaml"
runner = CliRunner()


def cli_env(settings) -> dict[str, str]:
    return {
        "VOLTSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap,
        "VOLTSTREAM_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
        "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(settings.station_partitions),
        "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(settings.other_partitions),
    }


def cli_apply(settings, path: Path):
    return runner.invoke(app, ["catalog", "apply", str(path)], env=cli_env(settings))


async def built_index(settings) -> CatalogIndex:
    index = CatalogIndex()
    await index.follow(settings)
    await index.wait_caught_up(30)
    await index.stop()
    return index


async def end_offsets(settings, bases) -> dict:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topics().name(b), 0) for b in bases]
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


def write_catalog(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def test_apply_example_then_index_equals_file(kafka_settings):
    result = await asyncio.to_thread(cli_apply, kafka_settings, EXAMPLE)
    assert result.exit_code == 0, result.output
    catalog = load_catalog(EXAMPLE)
    index = await built_index(kafka_settings)

    op = catalog.file.operator
    expected_locations = {
        loc.id: loc.model_copy(update={"country_code": op.country_code, "party_id": op.party_id})
        for loc in catalog.file.locations
    }
    assert {r.location.id: r.location for r in index.locations()} == expected_locations
    assert {t.id: t.model_copy(update={"last_updated": EPOCH}) for t in index.tariffs()} == {
        t.id: t for t in catalog.tariffs
    }
    assert {r.token.uid: r.token.model_copy(update={"last_updated": EPOCH}) for r in index.tokens()} == {
        t.uid: t for t in catalog.tokens
    }
    for station in catalog.file.stations:
        assert index.credential(station.station_id).authorization_key_hash == station.authorization_key_hash
    # the index answers the questions services ask
    evse = index.evse("MUC-DC-001", 1)
    assert (evse.location_id, evse.evse_uid, evse.time_zone) == ("LOC-MUC-01", "MUC01-DC001-1", "Europe/Berlin")
    assert [c.tariff_ids for c in evse.connectors] == [["DC-TIME-OF-DAY"], ["DC-TIME-OF-DAY"]]
    assert index.tariff("DE", "VST", "DC-TIME-OF-DAY").elements[1].restrictions.start_time == "07:00"
    assert index.token("04A1B2C3D4E5F6").contract_id == "DE-VST-C00000001-A"
    long_uid = "vst-app-user-0000000000000000000042"
    alias = short_alias(long_uid)
    assert len(alias) <= 20 and index.token(alias).uid == long_uid
    assert verify_key("demo-ber-ac-001-key-0123456789", index.credential("BER-AC-001").authorization_key_hash)
    assert [e.ocpp_evse_id for e in index.station_evses("BER-AC-001")] == [1, 2]

    again = await asyncio.to_thread(cli_apply, kafka_settings, EXAMPLE)
    assert again.exit_code == 0 and "0 published, 0 removed" in again.output, again.output


async def test_reapply_without_station_removes_only_catalog_records(kafka_settings, tmp_path):
    assert (await asyncio.to_thread(cli_apply, kafka_settings, EXAMPLE)).exit_code == 0
    now = datetime.now(UTC).replace(microsecond=0)
    partner_token = Token(country_code="NL", party_id="EMS", uid="PARTNER-UID-1", type="RFID",
                          contract_id="NL-EMS-C1", issuer="eMSP", valid=True, whitelist="ALLOWED", last_updated=now)
    rotated_hash = hash_key("rotated-key-for-ber-ac-001-xyz")
    async with EventProducer(kafka_settings) as producer:
        await producer.send(TokenPublished.create(
            payload=TokenRecord(record_key="NL/EMS/PARTNER-UID-1/RFID", owner="partner:NL-EMS",
                                last_updated=now, token=partner_token),
            source=Source.OCPI, occurred_at=now))
        for station in ("BER-AC-001", "MUC-DC-002"):
            await producer.send(CredentialPublished.create(
                payload=CredentialRecord(record_key=f"{station}/rotation", owner="rotation", last_updated=now,
                                         station_id=station, security_profile=2, authorization_key_hash=rotated_hash),
                source=Source.ROTATION, station_id=station, occurred_at=now))

    raw = yaml.safe_load(EXAMPLE.read_text())
    reduced = copy.deepcopy(raw)
    reduced["stations"] = [s for s in raw["stations"] if s["station_id"] != "MUC-DC-002"]
    muc = next(loc for loc in reduced["locations"] if loc["id"] == "LOC-MUC-01")
    muc["evses"] = [e for e in muc["evses"] if e["station_id"] != "MUC-DC-002"]
    reduced["tokens"] = [t for t in raw["tokens"] if t["uid"] != "04BLOCKED00001"]
    result = await asyncio.to_thread(cli_apply, kafka_settings, write_catalog(tmp_path, reduced))
    assert result.exit_code == 0, result.output

    index = await built_index(kafka_settings)
    assert "station-credentials MUC-DC-002/catalog" in result.output
    assert index.records["station-credentials"].get("MUC-DC-002/catalog") is None
    removed_evse = index.evse("MUC-DC-002", 1)
    assert removed_evse is not None and removed_evse.removed  # kept, marked removed, never deleted
    location = next(r.location for r in index.locations() if r.location.id == "LOC-MUC-01")
    assert [e.uid for e in location.evses if e.removed] == ["MUC01-DC002-1"]
    assert all(c.removed for e in location.evses if e.removed for c in e.connectors)
    assert not index.evse("MUC-DC-001", 1).removed
    assert index.token("04BLOCKED00001") is None
    # untouched: the partner's token and every rotated credential
    assert index.token("PARTNER-UID-1") == partner_token
    assert index.credential("BER-AC-001").owner == "rotation"
    assert index.credential("BER-AC-001").authorization_key_hash == rotated_hash
    assert index.records["station-credentials"]["MUC-DC-002/rotation"].authorization_key_hash == rotated_hash

    # removing the whole site keeps it, REMOVED, with every EVSE removed
    reduced["locations"] = [loc for loc in reduced["locations"] if loc["id"] != "LOC-MUC-01"]
    reduced["stations"] = [s for s in reduced["stations"] if s["station_id"] != "MUC-DC-001"]
    assert (await asyncio.to_thread(cli_apply, kafka_settings, write_catalog(tmp_path, reduced))).exit_code == 0
    index = await built_index(kafka_settings)
    muc = next(r.location for r in index.locations() if r.location.id == "LOC-MUC-01")
    assert muc.removed and all(e.removed for e in muc.evses)


async def test_bad_catalog_is_rejected_whole_and_publishes_nothing(kafka_settings, tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["locations"][0]["evses"][0]["connectors"][0]["power_type"] = "AC_4_PHASE"
    raw["tariffs"][1]["elements"][0]["price_components"][0]["type"] = "BANANAS"
    raw["tokens"][0]["whitelist"] = "SOMETIMES"
    before = await end_offsets(kafka_settings, ["locations", "tariffs", "tokens", "station-credentials"])
    result = await asyncio.to_thread(cli_apply, kafka_settings, write_catalog(tmp_path, raw))
    assert result.exit_code == 1
    assert "locations[0].evses[0].connectors[0].power_type" in result.output
    assert "tariffs[1].elements[0].price_components[0].type" in result.output
    assert "tokens[0].whitelist" in result.output
    assert "Traceback" not in result.output
    after = await end_offsets(kafka_settings, ["locations", "tariffs", "tokens", "station-credentials"])
    assert before == after and set(after.values()) == {0}


def test_catalog_loader_reports_cross_reference_errors():
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["locations"][1]["evses"][0]["connectors"][0]["tariff_ids"] = ["NO-SUCH-TARIFF"]
    raw["stations"][0]["authorization_key_hash"] = "plaintext-key-123456"
    with pytest.raises(ValueError) as info:
        parse_catalog(raw)
    assert "stations[0].authorization_key_hash" in str(info.value)
    raw["stations"][0]["authorization_key_hash"] = None
    with pytest.raises(ValueError, match=r"locations\[1\].evses\[0\].connectors\[0\].tariff_ids\[0\]: unknown tariff"):
        parse_catalog(raw)
