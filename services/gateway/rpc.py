"""OCPP-J framing: parse an incoming text frame, validate a CALL against the OCA JSON schema
shipped in the `ocpp` package, and build CALLRESULT / CALLERROR / CALL frames.

Schema validation has two stages. jsonschema's Draft4Validator interprets the schema on every
call (≈1 ms for a MeterValues, half of the gateway's CPU per CALL), so each OCA schema is also
compiled once into a plain-Python "is this valid?" predicate for the keywords the OCA schemas
use. The predicate is conservative: it may only say "valid" when jsonschema would; anything it
is unsure of (a keyword it doesn't compile, a value type it doesn't model) answers "not valid",
and then jsonschema runs as before and picks the error. So answers and error codes are exactly
jsonschema's, and only valid messages (the hot path) skip the interpreter.
"""

from __future__ import annotations

import decimal
import json
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import Draft4Validator
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


# OCPP 1.6 schemas with `multipleOf: 0.1` must be checked on exact decimals (as the ocpp package
# does; it shares the validator cache, so both must load these schemas the same way).
DECIMAL_SCHEMAS_16 = {(CALL, "SetChargingProfile"), (CALL, "RemoteStartTransaction"),
                      (CALLRESULT, "GetCompositeSchedule")}


def validate(protocol: str, message_type: int, action: str, payload: dict[str, Any]) -> None:
    validator, is_valid = _schema(message_type, action, SCHEMA_VERSION[protocol])
    if protocol == V16 and (message_type, action) in DECIMAL_SCHEMAS_16:
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    if is_valid is not None and is_valid(payload):
        return  # the compiled predicate only says so when jsonschema would find no error
    error = next(iter(validator.iter_errors(payload)), None)
    if error is None:
        return
    error = _deepest(error)
    fault = SCHEMA_KEYWORDS.get(str(error.validator), Fault.BAD_VALUE)
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    raise OcppFault(fault, f"{where}: {error.message}"[:200])


_SCHEMAS: dict[tuple[int, str, str], tuple[Draft4Validator, Callable[[Any], bool] | None]] = {}


def _schema(message_type: int, action: str, version: str) -> tuple[Draft4Validator, Callable[[Any], bool] | None]:
    key = (message_type, action, version)
    entry = _SCHEMAS.get(key)
    if entry is None:
        exact = version == "1.6" and (message_type, action) in DECIMAL_SCHEMAS_16
        validator = get_validator(message_type, action, version, **({"parse_float": decimal.Decimal} if exact else {}))
        try:
            is_valid = _Compiler(validator.schema).compile(validator.schema)
        except _Unsupported:
            is_valid = None  # e.g. multipleOf: jsonschema alone decides
        entry = _SCHEMAS[key] = (validator, is_valid)
    return entry


# --- compiled validity predicates (Draft 4 subset used by the OCA schemas) --------------------
class _Unsupported(Exception):
    pass


# Draft 4 keywords the compiler models; the validator's other keywords make a schema unsupported,
# anything jsonschema doesn't know (description, javaType, definitions, …) it ignores, as we do.
# `format` is not checked by jsonschema without a format checker (get_validator passes none).
_MODELLED = {"$ref", "type", "properties", "required", "additionalProperties", "enum", "maxLength",
             "items", "minItems", "maxItems", "minimum", "maximum", "format", "additionalItems"}
_UNMODELLED = (set(Draft4Validator.VALIDATORS) - _MODELLED) | {"exclusiveMinimum", "exclusiveMaximum"}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    # jsonschema accepts any numbers.Number; int/float is all JSON gives (others: "unsure")
    "number": lambda x: isinstance(x, int | float) and not isinstance(x, bool),
}


def _accept(x: Any) -> bool:
    return True


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.refs: dict[str, Callable[[Any], bool]] = {}

    def compile(self, node: Any) -> Callable[[Any], bool]:
        if not isinstance(node, dict):
            raise _Unsupported(repr(node)[:40])
        if "$ref" in node:  # Draft 4: siblings of $ref are ignored
            return self._ref(node["$ref"])
        if _UNMODELLED & node.keys():
            raise _Unsupported(str(sorted(_UNMODELLED & node.keys())))
        if "additionalItems" in node and not isinstance(node.get("items", {}), dict):
            raise _Unsupported("tuple items")
        checks: list[Callable[[Any], bool]] = []
        names: list[str] = []
        if "type" in node:
            names = [node["type"]] if isinstance(node["type"], str) else list(node["type"])
            if any(n not in _TYPES for n in names):
                raise _Unsupported(str(names))
        strings: frozenset[str] | None = None
        if "enum" in node:
            # jsonschema compares a string instance with ==; other instances: "unsure"
            strings = frozenset(e for e in node["enum"] if isinstance(e, str))
        limit = node.get("maxLength")
        # the common leaves as one closure each (this runs for every field of every CALL)
        if names == ["string"] and not node.keys() & {"minimum", "maximum", "properties", "required",
                                                     "additionalProperties", "items", "minItems", "maxItems"}:
            if strings is not None:
                return (lambda x: isinstance(x, str) and x in strings and len(x) <= limit) if limit is not None else (
                    lambda x: isinstance(x, str) and x in strings)
            if limit is not None:
                return lambda x: isinstance(x, str) and len(x) <= limit
            return _TYPES["string"]
        if names:
            preds = [_TYPES[n] for n in names]
            checks.append(preds[0] if len(preds) == 1 else (lambda x, ps=preds: any(p(x) for p in ps)))
        if strings is not None:
            checks.append(lambda x: isinstance(x, str) and x in strings)
        if limit is not None:
            checks.append(lambda x: not isinstance(x, str) or len(x) <= limit)
        if "minimum" in node:
            checks.append(_bound(node["minimum"], lambda x, b: x < b))
        if "maximum" in node:
            checks.append(_bound(node["maximum"], lambda x, b: x > b))
        if node.keys() & {"properties", "required", "additionalProperties"}:
            checks.append(self._object(node))
        if node.keys() & {"items", "minItems", "maxItems"}:
            checks.append(self._array(node))
        return _all_of(checks)

    def _ref(self, ref: str) -> Callable[[Any], bool]:
        if ref in self.refs:
            return self.refs[ref]
        if not ref.startswith("#/definitions/") or "~" in ref or "%" in ref or ref.count("/") != 2:
            raise _Unsupported(ref)
        target: Callable[[Any], bool] | None = None
        self.refs[ref] = lambda x: target(x)  # late-bound: definitions may refer to each other
        target = self.compile(self.root.get("definitions", {})[ref.rsplit("/", 1)[1]])
        self.refs[ref] = target
        return target

    def _object(self, node: dict[str, Any]) -> Callable[[Any], bool]:
        props = {name: self.compile(sub) for name, sub in node.get("properties", {}).items()}
        required = tuple(node.get("required", ()))
        extra = node.get("additionalProperties", True)
        extra_check = self.compile(extra) if isinstance(extra, dict) else None
        extra_allowed = bool(extra) if extra_check is None else True

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True  # object keywords don't apply (type decides)
            for name in required:
                if name not in x:
                    return False
            for name, value in x.items():
                sub = props.get(name)
                if sub is not None:
                    if not sub(value):
                        return False
                elif extra_check is not None:
                    if not extra_check(value):
                        return False
                elif not extra_allowed:
                    return False
            return True

        return check

    def _array(self, node: dict[str, Any]) -> Callable[[Any], bool]:
        items = self.compile(node["items"]) if "items" in node else _accept
        low, high = node.get("minItems", 0), node.get("maxItems")

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if len(x) < low or (high is not None and len(x) > high):
                return False
            for v in x:
                if not items(v):
                    return False
            return True

        return check


def _all_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)

    def check(x: Any) -> bool:
        for c in checks:
            if not c(x):
                return False
        return True

    return check


def _bound(bound: Any, fails: Callable[[Any, Any], bool]) -> Callable[[Any], bool]:
    def check(x: Any) -> bool:
        if isinstance(x, bool):
            return True  # not a number to jsonschema: the keyword is skipped
        if isinstance(x, int | float):
            return not fails(x, bound)
        return not isinstance(x, numbers.Number)  # non-numbers are skipped; Decimal etc.: unsure

    return check


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
