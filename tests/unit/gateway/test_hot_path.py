"""The gateway's faster forms must give exactly what the plain forms give: compiled schema
predicates vs jsonschema, the direct frame encoding vs the pydantic event, cached ids, keys and
partitions vs the originals, and the group-committed spool."""

from __future__ import annotations

import asyncio
import glob
import os
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import ocpp
import pytest
from aiokafka.partitioner import DefaultPartitioner
from ocpp.charge_point import camel_to_snake_case as ocpp_camel_to_snake

from libs.events.codec import encode
from libs.events.envelope import Source
from libs.events.identity import VOLTSTREAM_NAMESPACE, canonical, fact_id
from libs.events.producer import KeyHashPartitioner
from libs.events.station import Heartbeat, StationHeartbeat
from libs.events.transactions import OcppFrame, OcppFrameLogged
from services.gateway import rpc
from services.gateway.connection import camel_to_snake_case
from services.gateway.frames import encode_frame
from services.gateway.spool import Spool, SpoolFull

SCHEMAS = os.path.join(os.path.dirname(ocpp.__file__), "{}", "schemas", "*.json")


def _schemas():
    for version, folder in (("1.6", "v16"), ("2.0.1", "v201")):
        for path in sorted(glob.glob(SCHEMAS.format(folder))):
            name = os.path.basename(path)[:-5]
            if name.endswith("Response"):
                yield 3, name[: -len("Response")], version
            elif version == "1.6":
                yield 2, name, version
            elif name.endswith("Request"):
                yield 2, name[: -len("Request")], version


def _instance(node, root, rnd: random.Random, depth: int = 0):
    """A random instance, mostly valid, sometimes wrong in one place."""
    while "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[1]]
    if rnd.random() < 0.06:
        return rnd.choice([None, True, 0, -1, 1.5, "", "x" * 600, [], {}, [1], {"a": 1}])
    kind = node.get("type")
    kind = rnd.choice(kind) if isinstance(kind, list) else kind
    if "enum" in node:
        return rnd.choice(node["enum"])
    if kind == "object" or "properties" in node:
        out = {k: _instance(sub, root, rnd, depth + 1) for k, sub in node.get("properties", {}).items()
               if depth < 6 and (k in node.get("required", []) or rnd.random() < 0.5)}
        if rnd.random() < 0.03:
            out["unexpected"] = 1
        if rnd.random() < 0.03 and out:
            out.pop(rnd.choice(list(out)))
        return out
    if kind == "array":
        top = node.get("maxItems") or 3
        return [_instance(node.get("items", {}), root, rnd, depth + 1) for _ in range(rnd.choice([0, 1, 2, top, top + 1]))]
    if kind == "string":
        limit = node.get("maxLength", 20)
        return "a" * rnd.choice([0, 1, limit, limit + 1])
    if kind == "integer":
        return rnd.choice([0, 1, -5, node.get("minimum", 0) - 1, 7])
    if kind == "number":
        return rnd.choice([0, 1.5, -2.0, 0.1])
    if kind == "boolean":
        return rnd.choice([True, False])
    return rnd.choice([1, "x", None])


def test_compiled_schema_predicates_agree_with_jsonschema():
    rnd = random.Random(4)
    compiled = checked = 0
    for message_type, action, version in _schemas():
        validator, is_valid = rpc._schema(message_type, action, version)
        if is_valid is None:
            continue
        compiled += 1
        for _ in range(60):
            instance = _instance(validator.schema, validator.schema, rnd)
            instance = instance if isinstance(instance, dict) else {}
            valid = next(iter(validator.iter_errors(instance)), None) is None
            assert is_valid(instance) == valid, (version, action, message_type, instance)
            checked += 1
    assert compiled > 190 and checked > 10_000


def test_frame_encoding_is_the_events_encoding():
    for received_at in (datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC), datetime(2025, 6, 1, 12, 0, 0, 1000, tzinfo=UTC),
                        datetime(2025, 6, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))):
        for args in (("CS-1", "c1", 7, "in", "ocpp1.6", '[2,"1","Heartbeat",{}]', 2, "1", "Heartbeat"),
                     ("CS-2", "c2", 8, "out", "ocpp2.0.1", '[3,"1",{"é":"\u2028</x>\\""}]', 3, "1", None),
                     ("CS-3", "c3", 1, "in", "ocpp2.0.1", "not json", None, None, None)):
            station, conn, seq, direction, protocol, raw, message_type, message_id, action = args
            event = OcppFrameLogged.create(
                payload=OcppFrame(connection_id=conn, seq=seq, direction=direction, protocol=protocol,
                                  message_type=message_type, message_id=message_id, action=action, raw=raw),
                source=Source(protocol), station_id=station, received_at=received_at,
                frame_identity=(conn, seq, direction))
            assert encode_frame(station, conn, seq, direction, protocol, raw, received_at, message_type,
                                message_id, action) == encode(event)


def test_fact_ids_are_uuid5_of_the_canonical_text():
    when = datetime(2025, 6, 1, 12, 0, 0, 1000, tzinfo=UTC)
    for parts in (("CS1", 1, None, when, "Energy.Active.Import.Register"), ("é", 1.5, True, "x" * 100), ()):
        text = "\x1f".join(["meter.sampled", *(canonical(p) for p in parts)])
        assert fact_id("meter.sampled", *parts) == uuid.uuid5(VOLTSTREAM_NAMESPACE, text)
    # the same instant in another zone, and a naive time (taken as UTC), give the same text
    assert canonical(when.astimezone(timezone(timedelta(hours=-5)))) == canonical(when) == canonical(
        when.replace(tzinfo=None)) == "2025-06-01T12:00:00.001Z"
    beat = StationHeartbeat.create(payload=Heartbeat(), source="ocpp1.6", station_id="CS1", frame_identity=("c", 1))
    assert beat.event_id == uuid.UUID("f98909fa-1fe6-57cd-80c5-a751d89a78a4")  # as issued before the change


def test_cached_snake_case_is_ocpps():
    payload = {"connectorId": 1, "meterValue": [{"timestamp": "t", "sampledValue": [{"unitOfMeasure": {"unit": "W"}}]}],
               "ocppCSMSURL": "u", "V2XChargingParameters": {}, "evseId": 2, "SoCLimitReached": True, "idTag": "x"}
    assert camel_to_snake_case(payload) == ocpp_camel_to_snake(payload)
    assert camel_to_snake_case(payload) == ocpp_camel_to_snake(payload)  # from the cache


def test_cached_partitioner_is_the_default_partitioner():
    rnd = random.Random(1)
    cached, default = KeyHashPartitioner(max_keys=50), DefaultPartitioner()
    for _ in range(2000):
        key = rnd.randbytes(rnd.randint(0, 30))
        partitions = list(range(rnd.choice([1, 3, 6, 12])))
        assert cached(key, partitions, partitions) == default(key, partitions, partitions)


async def test_spool_group_commit_keeps_order_and_limit(tmp_path):
    events = [StationHeartbeat.create(payload=Heartbeat(), source="ocpp1.6", station_id=f"CS{i:02d}",
                                      frame_identity=("c", i)) for i in range(30)]
    one = len(encode(events[0])) + 1
    spool = Spool(tmp_path, max_bytes=one * 25)
    results = await asyncio.gather(*(spool.append([e]) for e in events), return_exceptions=True)
    assert [r for r in results if r is not None] and all(isinstance(r, SpoolFull) for r in results[25:])
    assert results[:25] == [None] * 25 and spool.pending_events == 25
    replayed, _ = await spool.peek(100)
    assert [e.station_id for e in replayed] == [f"CS{i:02d}" for i in range(25)]
    reopened = Spool(tmp_path, max_bytes=one * 25)
    assert reopened.pending_events == 25


@pytest.mark.parametrize("bad", [{"connectorId": "1"}, {"connectorId": 1, "errorCode": "NoError", "status": "x",
                                                         "timestamp": "t"}, {"extra": 1}])
def test_invalid_payloads_still_get_jsonschemas_error(bad):
    with pytest.raises(rpc.OcppFault):
        rpc.validate("ocpp1.6", rpc.CALL, "StatusNotification", bad)
