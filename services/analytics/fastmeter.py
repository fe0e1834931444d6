"""Fast decode of meter.sampled: raw bytes -> the meter_values row, validated, without the model.

Meter samples are ~all of the sink's volume, and building the full pydantic event (dict ->
nested BaseModels -> Python validators) and then its row cost more than the insert. Here the
codec's own parser (orjson) reads the bytes and a light check accepts only the plain shape the
producers write: every field of the exact JSON type MeterSampled declares, canonical UUID and
ISO-8601 UTC-offset timestamps. For that shape pydantic would give the same values, so the row
is the same as `rows.meter_row(decode(data))` (tests/unit/analytics/test_fastmeter.py).

Anything else (another type, a coercion pydantic would make, an odd timestamp, a refusal) is
handed to the full decoder (`codec.decode`), so the DLQ reasons (not_json, invalid_event,
unsupported_schema_version, unmappable_row) stay exactly as before.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from libs.events.codec import decode
from libs.events.envelope import Event, Source
from libs.events.transactions import MeterSampled
from services.analytics.rows import RowError, meter_row_values

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# what both pydantic and datetime.fromisoformat read to the same instant (ranges checked there)
_TIME = re.compile(r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-][01]\d:[0-5]\d)")
_SOURCES = {s.value: s for s in Source}
_DEFAULT_MEASURAND = MeterSampled.model_fields["payload"].annotation.model_fields["measurand"].default
_STR_OR_NONE = (str, type(None))
_INT_OR_NONE = (int, type(None))
# the JSON types MeterSampled declares, per field, as one tuple of type() checked in one lookup:
# station_id, clock_suspect, transaction_ref, session_id, phase, location, context, evse_id,
# connector_id, seq_no, value, unit, measurand, signed_data
_PLAIN = frozenset(itertools.product(
    _STR_OR_NONE, (bool,), *[_STR_OR_NONE] * 5, *[_INT_OR_NONE] * 3, (float, int), (str,), (str,),
    (type(None), str, dict),
))


class MeterRow(tuple):
    """A meter_values row decoded on the fast path (columns as rows.METER_VALUES)."""

    __slots__ = ()


class _FullPath(Exception):
    """Not the plain shape: let the full decoder decide."""


def decode_fast(data: bytes) -> Event | MeterRow:
    """EventConsumer decoder: a MeterRow for a plain meter.sampled, else the full decode."""
    try:
        doc = orjson.loads(data)
        if type(doc) is not dict or doc.get("type") != MeterSampled.TYPE:
            raise _FullPath
        return MeterRow(_row(doc))
    except (orjson.JSONDecodeError, _FullPath, RowError, KeyError, ValueError):
        return decode(data)  # the codec raises the reason, or the sink refuses the row as before


def _row(doc: dict[str, Any]) -> tuple:
    version = doc.get("schema_version", 1)
    p = doc["payload"]
    if type(version) is not int or not 1 <= version <= MeterSampled.SCHEMA_VERSION or type(p) is not dict:
        raise _FullPath
    get = p.get
    fields = (doc.get("station_id"), doc.get("clock_suspect", False), get("transaction_ref"), get("session_id"),
              get("phase"), get("location"), get("context"), get("evse_id"), get("connector_id"), get("seq_no"),
              p["value"], p["unit"], get("measurand", _DEFAULT_MEASURAND), get("signed_data"))
    if tuple(map(type, fields)) not in _PLAIN:
        raise _FullPath
    event_id, source = doc["event_id"], doc["source"]
    if type(event_id) is not str or not _UUID.fullmatch(event_id) or type(source) is not str:
        raise _FullPath
    (station_id, suspect, transaction_ref, session_id, phase, location, context, evse_id, connector_id, seq_no,
     value, unit, measurand, signed) = fields
    return meter_row_values(
        # the canonical text of a UUID: ClickHouse reads it as the same UUID the model would give
        event_id, station_id, _time(doc["occurred_at"]), _time(doc["received_at"]), suspect, _SOURCES[source],
        evse_id, connector_id, transaction_ref, session_id, measurand, phase, location, context, float(value),
        unit, signed, seq_no,
    )


def _time(value: Any) -> datetime:
    if type(value) is not str or not _TIME.fullmatch(value):
        raise _FullPath
    return datetime.fromisoformat(value).astimezone(UTC)  # ValueError (e.g. 30 Feb): full path
