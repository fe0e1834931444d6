"""The batching sink: a consumer batch -> rows per table -> one insert per table -> commit.

EventConsumer hands over a batch (cut by rows and by time) and commits its offsets only after
`handle` returned, i.e. after every insert succeeded. Failures:
- a row mapper refuses an event, or ClickHouse refuses a row (type/range errors): the row is
  found (bisecting the insert) and raised as `Rejected`, so it goes to dlq.analytics with the
  reason while the rest of the batch is inserted (re-inserting rows is harmless: every table
  deduplicates on the event identity and every view is idempotent);
- anything else (ClickHouse unreachable, disk full, …) propagates: the consumer commits nothing
  and re-reads the batch after a backoff, so an outage pauses consumption without loss.
"""

from __future__ import annotations

import time
from collections import defaultdict

import structlog
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError
from prometheus_client import Counter, Histogram

from libs.events.consumer import Delivery, Rejected
from services.analytics.arrow import SCHEMAS, to_arrow
from services.analytics.engine import Engine
from services.analytics.fastmeter import MeterRow
from services.analytics.rows import METER_VALUES, RowError, Table, to_row

log = structlog.get_logger("analytics.sink")

ROWS = Counter("voltstream_analytics_rows_inserted_total", "Rows inserted into ClickHouse", ["table"])
INSERT_SECONDS = Histogram("voltstream_analytics_insert_seconds", "Time per table insert", ["table"])
BATCHES = Counter("voltstream_analytics_batches_total", "Consumer batches written")

# ClickHouse error codes that mean "this data can never be inserted", as opposed to an outage.
_DATA_ERROR_CODES = {6, 27, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349, 407}


def is_rejection(exc: BaseException) -> bool:
    if isinstance(exc, DataError | RowError | OverflowError | TypeError | ValueError):
        return not isinstance(exc, DatabaseError) or getattr(exc, "code", None) in _DATA_ERROR_CODES
    code = getattr(exc, "code", None)
    return isinstance(exc, DatabaseError) and code in _DATA_ERROR_CODES


class Sink:
    def __init__(self, engine: Engine, database: str):
        self.engine = engine
        self.database = database
        self.last_insert_at: float | None = None

    async def handle(self, deliveries: list[Delivery]) -> None:
        grouped: dict[Table, tuple[list[tuple], list[Delivery]]] = defaultdict(lambda: ([], []))
        for delivery in deliveries:
            if delivery.event is None:  # tombstone on a compacted topic: analytics keeps history
                continue
            if type(delivery.event) is MeterRow:  # decoded straight to its row (fastmeter.py)
                rows, owners = grouped[METER_VALUES]
                rows.append(delivery.event)
                owners.append(delivery)
                continue
            try:
                mapped = to_row(delivery.event)
            except (RowError, ValueError, TypeError) as exc:
                raise Rejected(delivery, "unmappable_row", str(exc)) from exc
            if mapped is None:
                continue
            table, row = mapped
            rows, owners = grouped[table]
            rows.append(row)
            owners.append(delivery)
        for table, (rows, owners) in grouped.items():
            await self._insert(table, rows, owners)
        BATCHES.inc()
        self.last_insert_at = time.time()

    async def _insert(self, table: Table, rows: list[tuple], owners: list[Delivery]) -> None:
        started = time.perf_counter()
        try:
            await self.engine.write(lambda c: self._write(c, table, rows))
        except Exception as exc:
            if not is_rejection(exc):
                raise
            await self._find_rejected(table, rows, owners, exc)
        INSERT_SECONDS.labels(table.name).observe(time.perf_counter() - started)
        ROWS.labels(table.name).inc(len(rows))

    def _write(self, client: Client, table: Table, rows: list[tuple]) -> None:
        """One insert, on the writer thread: column-oriented (Arrow) where the table has a schema
        for it (arrow.py), else clickhouse-connect's row insert."""
        name = f"{self.database}.{table.name}"
        if table in SCHEMAS:
            client.insert_arrow(name, to_arrow(table, rows))
        else:
            client.insert(name, rows, column_names=list(table.columns))

    async def _find_rejected(self, table: Table, rows: list[tuple], owners: list[Delivery], exc: BaseException) -> None:
        """Bisect a refused insert down to the first refused row and reject its delivery."""
        if len(rows) == 1:
            raise Rejected(owners[0], "clickhouse_rejected", f"{table.name}: {exc}") from exc
        mid = len(rows) // 2
        for part_rows, part_owners in ((rows[:mid], owners[:mid]), (rows[mid:], owners[mid:])):
            try:
                await self.engine.write(lambda c, r=part_rows: self._write(c, table, r))
            except Exception as part_exc:
                if not is_rejection(part_exc):
                    raise
                await self._find_rejected(table, part_rows, part_owners, part_exc)
