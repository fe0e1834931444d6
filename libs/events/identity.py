"""Deterministic identities (DESIGN.md "Identity").

The same fact re-sent by a charger must give the same id on any gateway replica, after any
restart, so every id here is a pure function of the fact, never of an OCPP message id.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

# Fixed namespace: changing it would change every id ever issued.
VOLTSTREAM_NAMESPACE = uuid.UUID("6f1c3c3e-5a57-4d3b-9a52-6d0c8e6e2a11")
_NAMESPACE_BYTES = VOLTSTREAM_NAMESPACE.bytes


def canonical(value: Any) -> str:
    """One stable text form per value, so ids don't depend on float formatting or timezones."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:  # the common parts first: the gateway builds several ids per CALL
        return value
    if kind is int:
        return str(value)
    if isinstance(value, datetime):
        return _canonical_time(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float | Decimal):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


@lru_cache(maxsize=4096)  # the samples of one meter value share their timestamp
def _canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fact_id(kind: str, *parts: Any) -> uuid.UUID:
    """UUIDv5 of a kind and the fields that identify the fact."""
    text = "\x1f".join([kind, *(canonical(p) for p in parts)])
    # = uuid.uuid5(VOLTSTREAM_NAMESPACE, text), without its per-call import and namespace
    # re-encoding (half the cost of an id); tests/unit/gateway/test_hot_path.py checks both agree.
    return uuid.UUID(bytes=hashlib.sha1(_NAMESPACE_BYTES + text.encode()).digest()[:16], version=5)


def ocpp16_transaction_id(
    station_id: str, connector_id: int, id_tag: str, meter_start: int, timestamp: datetime | str
) -> int:
    """The gateway-assigned 1.6 transactionId: a positive 31-bit hash of the StartTransaction.

    The same StartTransaction re-sent gets the same id; 0 is avoided because some chargers treat
    it as "no transaction".
    """
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)  # the gateway may hand over the raw text
    text = "\x1f".join(canonical(p) for p in (station_id, connector_id, id_tag, meter_start, timestamp))
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
    return value or 1


def session_id(station_id: str, transaction_id: str | int, started_at: datetime | None) -> str:
    """Session id for a station transaction.

    1.6: (station, gateway transaction id, start time): a 31-bit hash collision can never merge
    two sessions. 2.0.1: the station's own transactionId is unique per station by the standard
    and the start time is not on every TransactionEvent, so it is derived from (station,
    transactionId) alone; pass started_at=None for 2.0.1 (docs/events.md).
    """
    if started_at is None:
        return str(fact_id("session/2.0.1", station_id, transaction_id))
    return str(fact_id("session/1.6", station_id, transaction_id, started_at))
