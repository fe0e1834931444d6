"""The event contract without a broker: identity rules, codec, evolution, schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from libs.events.codec import (
    InvalidEvent,
    NotJson,
    UnknownEventType,
    UnsupportedSchemaVersion,
    decode,
    encode,
)
from libs.events.envelope import Source
from libs.events.identity import ocpp16_transaction_id, session_id
from libs.events.registry import EVENT_CLASSES
from libs.events.schema import write_schemas
from libs.events.station import StationHeartbeat, StationStatusChanged
from libs.events.topics import TopicRegistryError, Topics
from libs.events.transactions import MeterSampled, to_base_unit
from tests.factories import RECEIVED, SAMPLE_PAYLOADS, T0, all_sample_events, sample_event


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.TYPE)
def test_every_event_type_round_trips_through_the_codec(cls):
    event = sample_event(cls)
    assert event.type == cls.TYPE
    assert decode(encode(event)) == event


def test_same_fact_resent_gets_same_id_whatever_the_receive_time():
    a = sample_event(MeterSampled)
    b = MeterSampled.create(
        payload=SAMPLE_PAYLOADS[MeterSampled], source=Source.OCPP16, station_id="CS1",
        occurred_at=T0, received_at=RECEIVED + timedelta(minutes=30),
    )
    assert a.event_id == b.event_id
    assert a.received_at != b.received_at


def test_different_facts_get_different_ids():
    base = sample_event(MeterSampled)
    assert sample_event(MeterSampled, phase="L1").event_id != base.event_id
    assert sample_event(MeterSampled, station_id="CS2").event_id != base.event_id
    assert sample_event(MeterSampled, context="Transaction.End").event_id != base.event_id
    assert len({e.event_id for e in all_sample_events()}) == len(EVENT_CLASSES)


def test_timestamp_is_normalised_to_utc_before_hashing():
    berlin = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    a = StationStatusChanged.create(payload={"evse_id": 1, "status": "Available"}, source="ocpp1.6",
                                    station_id="CS1", occurred_at=T0, received_at=RECEIVED)
    b = StationStatusChanged.create(payload={"evse_id": 1, "status": "Available"}, source="ocpp1.6",
                                    station_id="CS1", occurred_at=berlin, received_at=RECEIVED)
    assert a.event_id == b.event_id
    assert a.occurred_at.tzinfo == UTC


def test_facts_without_timestamp_take_identity_from_connection_and_frame():
    first = StationHeartbeat.create(payload={}, source="ocpp1.6", station_id="CS1", frame_identity=("conn-a", 7))
    resent = StationHeartbeat.create(payload={}, source="ocpp1.6", station_id="CS1", frame_identity=("conn-a", 7))
    repeat = StationHeartbeat.create(payload={}, source="ocpp1.6", station_id="CS1", frame_identity=("conn-a", 8))
    assert first.event_id == resent.event_id
    assert repeat.event_id != first.event_id
    with pytest.raises(ValueError, match="frame_identity"):
        StationHeartbeat.create(payload={}, source="ocpp1.6", station_id="CS1")


@pytest.mark.parametrize(
    "charger_time",
    [datetime(1970, 1, 1, tzinfo=UTC), RECEIVED + timedelta(hours=2)],
    ids=["epoch", "future"],
)
def test_implausible_charger_clock_falls_back_to_receive_time_flagged(charger_time):
    event = StationStatusChanged.create(payload={"evse_id": 1, "status": "Available"}, source="ocpp1.6",
                                        station_id="CS1", occurred_at=charger_time, received_at=RECEIVED)
    assert event.clock_suspect is True
    assert event.occurred_at == RECEIVED
    again = StationStatusChanged.create(payload={"evse_id": 1, "status": "Available"}, source="ocpp1.6",
                                        station_id="CS1", occurred_at=charger_time, received_at=RECEIVED + timedelta(1))
    assert again.event_id == event.event_id  # identity keeps the charger's own timestamp


def test_late_offline_timestamp_is_plausible():
    late = RECEIVED - timedelta(days=3)
    event = StationStatusChanged.create(payload={"evse_id": 1, "status": "Available"}, source="ocpp2.0.1",
                                        station_id="CS1", occurred_at=late, received_at=RECEIVED)
    assert not event.clock_suspect and event.occurred_at == late


def test_ocpp16_transaction_id_is_deterministic_positive_31_bit():
    args = ("CS1", 1, "04A1", 1000, T0)
    tx = ocpp16_transaction_id(*args)
    assert tx == ocpp16_transaction_id(*args)
    assert 0 < tx < 2**31
    assert tx != ocpp16_transaction_id("CS1", 2, "04A1", 1000, T0)
    assert tx == ocpp16_transaction_id("CS1", 1, "04A1", 1000, T0.isoformat())
    ids = {ocpp16_transaction_id("CS1", 1, "04A1", m, T0) for m in range(2000)}
    assert len(ids) == 2000 and all(0 < i < 2**31 for i in ids)


def test_session_id_includes_start_time_for_16_and_not_for_201():
    a = session_id("CS1", 42, T0)
    assert a == session_id("CS1", 42, T0)
    assert a != session_id("CS1", 42, T0 + timedelta(days=1))  # hash collision never merges
    assert uuid.UUID(a).version == 5
    assert session_id("CS1", "tx-1", None) == session_id("CS1", "tx-1", None)
    assert session_id("CS1", "tx-1", None) != session_id("CS2", "tx-1", None)


def test_unknown_fields_are_ignored():
    raw = orjson.loads(encode(sample_event(MeterSampled)))
    raw["new_envelope_field"] = 1
    raw["payload"]["new_payload_field"] = {"x": 1}
    event = decode(orjson.dumps(raw))
    assert event == sample_event(MeterSampled)


def test_newer_schema_version_is_refused():
    raw = orjson.loads(encode(sample_event(MeterSampled)))
    raw["schema_version"] = MeterSampled.SCHEMA_VERSION + 1
    with pytest.raises(UnsupportedSchemaVersion):
        decode(orjson.dumps(raw))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x00\xffnot json", NotJson),
        (b"[1,2]", InvalidEvent),
        (b'{"type": "station.teleported"}', UnknownEventType),
        (b'{"type": "meter.sampled", "schema_version": 1}', InvalidEvent),
    ],
)
def test_undecodable_input_raises_a_reasoned_error(data, error):
    with pytest.raises(error) as info:
        decode(data)
    assert info.value.reason and info.value.detail


def test_base_units():
    assert to_base_unit(1.5, "kWh", "Energy.Active.Import.Register") == (1500.0, "Wh")
    assert to_base_unit(7.2, "kW", "Power.Active.Import") == (7200.0, "W")
    assert to_base_unit(12.0, None, "Energy.Active.Import.Register") == (12.0, "Wh")
    assert to_base_unit(16.0, None, "Current.Import") == (16.0, "A")


def test_json_schema_per_event_type(tmp_path):
    written = write_schemas(tmp_path)
    assert len(written) == len(EVENT_CLASSES)
    schema = json.loads((tmp_path / "meter.sampled.schema.json").read_text())
    assert schema["x-topic"] == "meter-values"
    assert "payload" in schema["required"] and "event_id" in schema["required"]


def test_registry_enforces_co_partitioning():
    Topics(station_partitions=4)
    with pytest.raises(TopicRegistryError, match="co-partitioning"):
        Topics(partition_overrides={"meter-values": 12})
    topics = Topics(prefix="x.", partition_overrides={"cdrs": 5})
    assert topics.partitions("cdrs") == 5
    names = [n for n, _, _ in topics.all()]
    assert "x.dlq.gateway" in names and "x.station-presence" in names
    cfg = dict((n, c) for n, _, c in topics.all())
    assert cfg["x.sessions"]["cleanup.policy"] == "compact"
    assert cfg["x.meter-values"]["cleanup.policy"] == "delete"
