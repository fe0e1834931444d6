"""OCPP-J framing: parse an incoming text frame, validate a CALL against the OCA JSON schema
shipped in the `ocpp` package, and build CALLRESULT / CALLERROR / CALL frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError
from ocpp.messages import get_validator
from ocpp.v16.enums import Action as V16Action
from ocpp.v201.enums import Action as V201Action

from services.gateway.errors import SCHEMA_KEYWORDS, UNREADABLE_ID, V16, Fault, OcppFault

CALL, CALLRESULT, CALLERROR = 2, 3, 4

SCHEMA_VERSION = {V16: "1.6", "ocpp2.0.1": "2.0.1"}
KNOWN_ACTIONS = {V16: {a.value for a in V16Action}, "ocpp2.0.1": {a.value for a in V201Action}}


@dataclass(frozen=True)
class Frame:
    message_type: int
    message_id: str
    action: str | None = None  # CALL only
    payload: Any = None  # CALL / CALLRESULT payload
    error_code: str | None = None  # CALLERROR only
    error_description: str | None = None
    error_details: Any = None


def parse(text: str | bytes) -> Frame:
    """Parse one OCPP-J frame, raising OcppFault with the message id when it is readable."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise OcppFault(Fault.NOT_JSON, str(exc)[:80], UNREADABLE_ID) from None
    if not isinstance(data, list) or len(data) < 2 or not isinstance(data[1], str) or not data[1]:
        raise OcppFault(Fault.NOT_RPC, "expected [MessageTypeId, MessageId, …]", UNREADABLE_ID)
    message_type, message_id = data[0], data[1]
    if message_type == CALL:
        if len(data) < 4:
            raise OcppFault(Fault.INCOMPLETE, "a CALL has 4 elements", message_id)
        if len(data) > 4 or not isinstance(data[2], str):
            raise OcppFault(Fault.NOT_RPC, "a CALL is [2, id, action, payload]", message_id)
        if not isinstance(data[3], dict):
            raise OcppFault(Fault.INCOMPLETE, "payload must be an object", message_id)
        return Frame(CALL, message_id, action=data[2], payload=data[3])
    if message_type == CALLRESULT and len(data) == 3:
        return Frame(CALLRESULT, message_id, payload=data[2])
    if message_type == CALLERROR and len(data) == 5:
        return Frame(CALLERROR, message_id, error_code=str(data[2]), error_description=str(data[3]),
                     error_details=data[4])
    if message_type in (CALLRESULT, CALLERROR):
        raise OcppFault(Fault.NOT_RPC, "wrong number of elements", message_id)
    raise OcppFault(Fault.MESSAGE_TYPE, f"MessageTypeId {message_type!r}", message_id)


def validate_call(protocol: str, action: str, payload: dict[str, Any], supported: set[str]) -> None:
    """Check the action exists and is one a charger may send, then the payload's schema."""
    if action not in KNOWN_ACTIONS[protocol]:
        raise OcppFault(Fault.UNKNOWN_ACTION, action)
    if action not in supported:
        raise OcppFault(Fault.UNSUPPORTED_ACTION, action)
    validate(protocol, CALL, action, payload)


def validate(protocol: str, message_type: int, action: str, payload: dict[str, Any]) -> None:
    validator = get_validator(message_type, action, SCHEMA_VERSION[protocol])
    error = next(iter(validator.iter_errors(payload)), None)
    if error is None:
        return
    error = _deepest(error)
    fault = SCHEMA_KEYWORDS.get(str(error.validator), Fault.BAD_VALUE)
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    raise OcppFault(fault, f"{where}: {error.message}"[:200])


def _deepest(error: ValidationError) -> ValidationError:
    while error.context:
        error = min(error.context, key=lambda e: len(e.absolute_path))
    return error


def call_result(message_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALLRESULT, message_id, payload]).decode()


def call_error(message_id: str, code: str, description: str, details: dict[str, Any] | None = None) -> str:
    return orjson.dumps([CALLERROR, message_id, code, description, details or {}]).decode()


def call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALL, message_id, action, payload]).decode()


def peek_message_id(text: str | bytes) -> str:
    """The message id of a frame too large to parse fully, or "-1" (best effort, bounded work)."""
    head = text[:200] if isinstance(text, str) else text[:200].decode(errors="replace")
    parts = head.split('"')
    return parts[1] if len(parts) > 2 and head.lstrip().startswith("[") else UNREADABLE_ID
