"""JSON codec (orjson) with the evolution rule: unknown fields are ignored, an event whose
schema_version is newer than this code reads is refused (the consumer sends it to its DLQ)."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import ValidationError

from libs.events.envelope import Event
from libs.events.registry import EVENT_TYPES

E = TypeVar("E", bound=Event)


class DecodeError(Exception):
    """The bytes are not an event this code can read; `reason` says why (for the DLQ)."""

    reason = "undecodable"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotJson(DecodeError):
    reason = "not_json"


class UnknownEventType(DecodeError):
    reason = "unknown_type"


class UnsupportedSchemaVersion(DecodeError):
    reason = "unsupported_schema_version"


class InvalidEvent(DecodeError):
    reason = "invalid_event"


def encode(event: Event) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


def decode(data: bytes, expected: type[E] | None = None) -> E | Event:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise NotJson(str(exc)) from exc
    if not isinstance(raw, dict):
        raise InvalidEvent("event is not a JSON object")
    event_type = raw.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if expected is not None and not issubclass(cls, expected):
        raise UnknownEventType(f"{event_type!r} is not a {expected.TYPE}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version > cls.SCHEMA_VERSION or version < 1:
        raise UnsupportedSchemaVersion(
            f"{event_type} schema_version {version!r}; this code reads up to {cls.SCHEMA_VERSION}"
        )
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent(_short(exc)) from exc


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
    )
