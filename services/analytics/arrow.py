"""Column-oriented (Arrow) batches for the high-volume tables.

clickhouse-connect's row insert serialises value by value in Python (~5 us a meter row here);
an Arrow table is built per column in C and ClickHouse reads it natively (insert_arrow). The
Arrow types give ClickHouse exactly what the row insert gave: UUIDs as their canonical text
(ClickHouse parses it into the UUID column), DateTime64(3, 'UTC') as UTC milliseconds
(truncated, as the row insert does).
"""

from __future__ import annotations

import pyarrow as pa

from services.analytics.rows import METER_VALUES, Table

_TS = pa.timestamp("ms", tz="UTC")
_S = pa.string()

SCHEMAS: dict[Table, pa.Schema] = {
    METER_VALUES: pa.schema([
        ("event_id", _S), ("station_id", _S), ("evse_id", pa.uint16()), ("connector_id", pa.uint16()),
        ("transaction_ref", _S), ("session_id", _S), ("occurred_at", _TS), ("received_at", _TS),
        ("clock_suspect", pa.bool_()), ("measurand", _S), ("phase", _S), ("location", _S), ("context", _S),
        ("value", pa.float64()), ("unit", _S), ("signed_data", _S), ("seq_no", pa.int64()), ("source", _S),
    ]),
}


def to_arrow(table: Table, rows: list[tuple]) -> pa.Table:
    """Rows (columns as table.columns) -> an Arrow table; raises (ValueError, OverflowError, …)
    on a value its column cannot hold, which the sink treats as a rejected row."""
    schema = SCHEMAS[table]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if field.name == "event_id":  # uuid.UUID (event path) or its canonical text (fastmeter.py)
            values = [v if type(v) is str else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
