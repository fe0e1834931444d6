"""The event envelope every Kafka message value carries (DESIGN.md "The event contract")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from libs.events.identity import fact_id

# A charger clock before this or further ahead than MAX_FUTURE_SKEW is implausible: the event
# takes the gateway's receive time and is flagged clock_suspect. Late timestamps are plausible
# (offline-queued transactions arrive hours or days later).
EARLIEST_PLAUSIBLE = datetime(2015, 1, 1, tzinfo=UTC)
MAX_FUTURE_SKEW = timedelta(minutes=5)


class Source(StrEnum):
    """Who produced the event (envelope `source`)."""

    OCPP16 = "ocpp1.6"
    OCPP201 = "ocpp2.0.1"
    OCPI = "ocpi"
    OPERATOR = "operator"
    CATALOG = "catalog"
    ROTATION = "rotation"
    GATEWAY = "gateway"
    SESSIONS = "sessions"
    BILLING = "billing"


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_plausible(charger_time: datetime, received_at: datetime) -> bool:
    return EARLIEST_PLAUSIBLE <= charger_time <= received_at + MAX_FUTURE_SKEW


class Payload(BaseModel):
    """Base of every payload: unknown fields are ignored (additive evolution)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Event(BaseModel):
    """Envelope. Subclasses fix `type`, `payload`, the topic and the identity fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    # Highest schema_version this code can read; an event with a higher one goes to the DLQ.
    SCHEMA_VERSION: ClassVar[int] = 1
    # Attribute paths whose values identify the fact ("occurred_at" means the charger's time).
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "occurred_at")
    # Payload field (or "station_id") whose value is the Kafka key.
    KEY: ClassVar[str] = "station_id"

    event_id: uuid.UUID
    type: str
    schema_version: int = 1
    station_id: str | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    clock_suspect: bool = False
    source: Source
    payload: Payload

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def create(
        cls,
        *,
        payload: Payload | dict[str, Any],
        source: Source | str,
        station_id: str | None = None,
        occurred_at: datetime | None = None,
        received_at: datetime | None = None,
        frame_identity: tuple[Any, ...] | None = None,
    ) -> Self:
        """Build an event with its deterministic id.

        `occurred_at` is the charger's own timestamp when the message has one. Facts without one
        (Heartbeat, BootNotification, …) pass `frame_identity=(connection_id, frame_seq)`, which
        then stands in for the timestamp in the identity.
        """
        received_at = (received_at or utcnow()).astimezone(UTC)
        if not isinstance(payload, Payload):
            payload = cls.model_fields["payload"].annotation.model_validate(payload)
        charger_time = occurred_at.astimezone(UTC) if occurred_at else None
        if charger_time is None and frame_identity is None and "occurred_at" in cls.IDENTITY:
            raise ValueError(f"{cls.TYPE}: a fact without a charger timestamp needs frame_identity")
        suspect = charger_time is not None and not is_plausible(charger_time, received_at)
        identity_values = cls._identity_values(station_id, payload, charger_time, frame_identity)
        return cls(
            event_id=fact_id(cls.TYPE, *identity_values),
            type=cls.TYPE,
            schema_version=cls.SCHEMA_VERSION,
            station_id=station_id,
            occurred_at=received_at if (charger_time is None or suspect) else charger_time,
            received_at=received_at,
            clock_suspect=suspect,
            source=Source(source),
            payload=payload,
        )

    @classmethod
    def _identity_values(
        cls,
        station_id: str | None,
        payload: Payload,
        charger_time: datetime | None,
        frame_identity: tuple[Any, ...] | None,
    ) -> list[Any]:
        values: list[Any] = []
        for path in cls.IDENTITY:
            if path == "station_id":
                values.append(station_id)
            elif path == "occurred_at":
                values.extend((charger_time,) if charger_time is not None else ("frame", *frame_identity))
            else:
                values.append(getattr(payload, path.removeprefix("payload.")))
        return values

    def key(self) -> str:
        if self.KEY == "station_id":
            return self.station_id or ""
        return str(getattr(self.payload, self.KEY))
