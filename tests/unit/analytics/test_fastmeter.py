"""The fast meter decoder gives exactly the row of the full path, or hands over to it."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pyarrow as pa
import pytest

from libs.events import station, transactions
from libs.events.codec import DecodeError, decode, encode
from services.analytics.arrow import to_arrow
from services.analytics.fastmeter import MeterRow, decode_fast
from services.analytics.rows import METER_VALUES, RowError, to_row
from tests.factories import T0, sample_event


def full_row(data: bytes) -> tuple:
    row = to_row(decode(data))[1]
    return (str(row[0]), *row[1:])  # the fast path keeps the event id as its canonical text


def mutated(**changes) -> bytes:
    doc = orjson.loads(encode(sample_event(transactions.MeterSampled)))
    payload = changes.pop("payload", {})
    doc.update(changes)
    doc["payload"].update(payload)
    return orjson.dumps(doc)


@pytest.mark.parametrize("data", [
    encode(sample_event(transactions.MeterSampled)),
    mutated(payload={"phase": "L1", "location": "Outlet", "seq_no": 7, "signed_data": {"v": "abc", "n": 1}}),
    mutated(payload={"signed_data": "raw-signed", "session_id": "s1", "value": 3}),  # int value
    mutated(payload={"context": "Zähler", "signed_data": {"x": "\ud7ff"}}),  # non-ASCII
    mutated(occurred_at="2026-11-25T09:30:00.123456+02:00", received_at="2026-11-25T07:31:00.5Z"),
    mutated(clock_suspect=True, station_id=None, schema_version=1, unknown_field={"x": 1}),
    mutated(payload={"evse_id": None, "connector_id": None, "measurand": "Power.Active.Import", "unit": "W"}),
])
def test_same_row_as_the_full_path(data):
    row = decode_fast(data)
    assert type(row) is MeterRow
    assert tuple(row) == full_row(data)


@pytest.mark.parametrize("data", [
    mutated(payload={"evse_id": 70000}),  # the sink refuses it: unmappable_row, as before
    mutated(payload={"value": "1.5"}, clock_suspect="true"),  # coercions: pydantic makes them
    mutated(event_id="A6656463-7BE4-581F-B841-58280D0EF57F", occurred_at="2026-11-25T08:30:00.5+0200"),
    mutated(schema_version=True),
    encode(sample_event(station.StationStatusChanged)),
])
def test_unusual_input_takes_the_full_path(data):
    result = decode_fast(data)
    assert type(result) is not MeterRow
    assert result == decode(data)


def test_out_of_range_row_is_still_refused_by_the_mapper():
    with pytest.raises(RowError):
        to_row(decode_fast(mutated(payload={"evse_id": 70000})))


@pytest.mark.parametrize("data", [
    b"{not json", b"[1]", mutated(schema_version=2), mutated(event_id="nope"), mutated(occurred_at="2026-11-25T00:00:00"),
    mutated(occurred_at="2026-02-30T00:00:00Z"), mutated(source="fax"), mutated(payload={"measurand": None}),
    mutated(payload={"value": "x"}), mutated(payload={"unit": None}),
    b'{"type":"meter.sampled","payload":{"value":NaN}}', b'{"type":"meter.sampled","x":"\xff"}',
    mutated(payload={"seq_no": 7}).replace(b'"seq_no":7', b'"seq_no":' + str(1 << 70).encode()),
])
def test_refusals_keep_the_codecs_reason(data):
    with pytest.raises(DecodeError) as full:
        decode(data)
    with pytest.raises(DecodeError) as fast:
        decode_fast(data)
    assert (fast.value.reason, fast.value.detail) == (full.value.reason, full.value.detail)


def test_arrow_batch_holds_the_row_values():
    rows = [decode_fast(mutated(occurred_at=(T0 + timedelta(microseconds=1999)).isoformat(), payload={"seq_no": 3}))]
    table = to_arrow(METER_VALUES, rows)
    assert table.column_names == list(METER_VALUES.columns)
    assert table["event_id"][0].as_py() == rows[0][0]
    assert table["occurred_at"][0].as_py() == T0 + timedelta(milliseconds=1)  # truncated to ms
    assert table["seq_no"].type == pa.int64() and table["seq_no"][0].as_py() == 3


def test_arrow_batch_mixes_both_paths():
    data = mutated(payload={"seq_no": 3})
    table = to_arrow(METER_VALUES, [decode_fast(data), to_row(decode(data))[1]])
    first, second = table.to_pylist()
    assert first == second
