"""The transaction → EVSE view (services/gateway/transaction_evses.py) and its records in the spool."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.events.envelope import Source
from libs.events.transactions import Started, TransactionStarted, TransactionUpdated, Updated
from services.gateway.spool import KeyedRecord, Spool
from services.gateway.transaction_evses import TOPIC, TransactionEvses, TransactionPlace

AT = datetime(2026, 3, 1, 10, tzinfo=UTC)


def started(ref: str, evse: int, station: str = "CS1") -> TransactionStarted:
    return TransactionStarted.create(payload=Started(transaction_ref=ref, evse_id=evse, connector_id=1,
                                                     session_id=f"s-{ref}"),
                                     source=Source.OCPP201, station_id=station, occurred_at=AT, received_at=AT)


def updated(ref: str, evse: int, seq: int) -> TransactionUpdated:
    return TransactionUpdated.create(payload=Updated(transaction_ref=ref, evse_id=evse, connector_id=1, seq_no=seq,
                                                     session_id=f"s-{ref}"),
                                     source=Source.OCPP201, station_id="CS1", occurred_at=AT, received_at=AT)


def test_remember_recall_and_the_records_written():
    view = TransactionEvses()
    first = started("T1", 1)
    assert view.remember(first) == [KeyedRecord(TOPIC, "CS1/T1", first)]
    assert view.recall("CS1", "T1") == TransactionPlace(1, 1, "s-T1")
    assert view.remember(updated("T1", 1, 1)) == []  # already known: nothing to write
    assert view.remember(first) == [KeyedRecord(TOPIC, "CS1/T1", first)]  # a start is always written
    # another EVSE of the same station: independent
    view.remember(started("T2", 2))
    # the EVSE's next transaction retires the previous one's record, on this replica and in the topic
    nxt = started("T3", 1)
    assert view.remember(nxt) == [KeyedRecord(TOPIC, "CS1/T1", None), KeyedRecord(TOPIC, "CS1/T3", nxt)]
    assert view.recall("CS1", "T1") is None and view.recall("CS1", "T2").evse_id == 2
    assert view.recall("OTHER", "T3") is None and len(view) == 2


def test_apply_follows_the_topic_including_tombstones():
    view = TransactionEvses()
    view.apply(TOPIC, "CS1/T/with/slashes", started("T/with/slashes", 3))
    assert view.recall("CS1", "T/with/slashes") == TransactionPlace(3, 1, "s-T/with/slashes")
    view.apply(TOPIC, "CS1/T/with/slashes", None)
    assert view.recall("CS1", "T/with/slashes") is None and len(view) == 0


async def test_keyed_records_round_trip_through_the_spool_in_order(tmp_path):
    spool = Spool(tmp_path, 1 << 20)
    event = started("T1", 1)
    items = [event, KeyedRecord(TOPIC, "CS1/T0", None), KeyedRecord(TOPIC, "CS1/T1", event)]
    await spool.append(items)
    back, _ = await Spool(tmp_path, 1 << 20).peek()  # as after a restart
    assert back == items
