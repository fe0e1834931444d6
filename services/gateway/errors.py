"""The bad-input table: every class of malformed input and the CALLERROR code each OCPP version
answers it with.

OCPP-J 1.6 §4.2.3 and OCPP 2.0.1 Part 4 §4.3 define different code sets (1.6 spells
"OccurenceConstraintViolation" and has "FormationViolation"; 2.0.1 spells
"OccurrenceConstraintViolation", has "FormatViolation", "MessageTypeNotSupported" and
"RpcFrameworkError"). 2.0.1 Part 4 §4.2.3: when the message id cannot be read, answer with
message id "-1"; the gateway does the same for 1.6, which is silent on it.
"""

from __future__ import annotations

from enum import StrEnum

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"


class Fault(StrEnum):
    """What went wrong with an incoming frame, independent of the OCPP version."""

    NOT_JSON = "not_json"  # the text is not JSON at all
    NOT_RPC = "not_rpc"  # JSON, but not an OCPP-J array / message id unreadable
    MESSAGE_TYPE = "message_type"  # message type id is not 2, 3 or 4
    INCOMPLETE = "incomplete"  # a CALL without its payload object
    UNKNOWN_ACTION = "unknown_action"  # the action does not exist in this OCPP version
    UNSUPPORTED_ACTION = "unsupported_action"  # exists, but a charger may not send it to a CSMS
    MISSING_FIELD = "missing_field"  # schema "required", "minItems", "maxItems"
    WRONG_TYPE = "wrong_type"  # schema "type", or a date-time that does not parse
    BAD_VALUE = "bad_value"  # schema "enum", "maxLength", "pattern", "minimum", …
    EXTRA_FIELD = "extra_field"  # schema "additionalProperties": false
    TOO_LARGE = "too_large"  # above the application frame-size limit
    RATE_LIMITED = "rate_limited"  # above the per-connection message rate
    NOT_REGISTERED = "not_registered"  # a non-Boot CALL from a station the CSMS rejected
    SPOOL_FULL = "spool_full"  # Kafka unavailable and the local spool is full
    INTERNAL = "internal"  # a bug; never a crash


#  fault                       OCPP 1.6                        OCPP 2.0.1
TABLE: dict[Fault, tuple[str, str]] = {
    Fault.NOT_JSON: ("FormationViolation", "RpcFrameworkError"),
    Fault.NOT_RPC: ("FormationViolation", "RpcFrameworkError"),
    Fault.MESSAGE_TYPE: ("FormationViolation", "MessageTypeNotSupported"),
    Fault.INCOMPLETE: ("ProtocolError", "ProtocolError"),
    Fault.UNKNOWN_ACTION: ("NotImplemented", "NotImplemented"),
    Fault.UNSUPPORTED_ACTION: ("NotSupported", "NotSupported"),
    Fault.MISSING_FIELD: ("OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    Fault.WRONG_TYPE: ("TypeConstraintViolation", "TypeConstraintViolation"),
    Fault.BAD_VALUE: ("PropertyConstraintViolation", "PropertyConstraintViolation"),
    Fault.EXTRA_FIELD: ("FormationViolation", "FormatViolation"),
    Fault.TOO_LARGE: ("FormationViolation", "FormatViolation"),
    Fault.RATE_LIMITED: ("GenericError", "GenericError"),
    Fault.NOT_REGISTERED: ("SecurityError", "SecurityError"),
    Fault.SPOOL_FULL: ("InternalError", "InternalError"),
    Fault.INTERNAL: ("InternalError", "InternalError"),
}

DESCRIPTIONS: dict[Fault, str] = {
    Fault.NOT_JSON: "Frame is not valid JSON",
    Fault.NOT_RPC: "Frame is not a valid OCPP-J RPC message",
    Fault.MESSAGE_TYPE: "Message type id is not supported",
    Fault.INCOMPLETE: "Payload for Action is incomplete",
    Fault.UNKNOWN_ACTION: "Requested Action is not known by receiver",
    Fault.UNSUPPORTED_ACTION: "Requested Action is recognized but not supported by the receiver",
    Fault.MISSING_FIELD: "A field violates occurrence constraints",
    Fault.WRONG_TYPE: "A field violates data type constraints",
    Fault.BAD_VALUE: "A field contains an invalid value",
    Fault.EXTRA_FIELD: "Payload contains a property the schema does not allow",
    Fault.TOO_LARGE: "Frame exceeds the maximum message size",
    Fault.RATE_LIMITED: "Message rate limit exceeded, retry later",
    Fault.NOT_REGISTERED: "Station is not accepted by the CSMS (BootNotification first)",
    Fault.SPOOL_FULL: "Temporarily unable to store the message, retry later",
    Fault.INTERNAL: "An internal error occurred",
}

# jsonschema validator keyword -> fault
SCHEMA_KEYWORDS: dict[str, Fault] = {
    "required": Fault.MISSING_FIELD,
    "minItems": Fault.MISSING_FIELD,
    "maxItems": Fault.MISSING_FIELD,
    "type": Fault.WRONG_TYPE,
    "additionalProperties": Fault.EXTRA_FIELD,
}

UNREADABLE_ID = "-1"


class OcppFault(Exception):
    """Raised anywhere while handling a CALL; becomes the version's CALLERROR."""

    def __init__(self, fault: Fault, detail: str = "", message_id: str | None = None):
        super().__init__(f"{fault}: {detail}")
        self.fault = fault
        self.detail = detail
        self.message_id = message_id

    def code(self, protocol: str) -> str:
        v16, v201 = TABLE[self.fault]
        return v16 if protocol == V16 else v201

    def description(self) -> str:
        text = DESCRIPTIONS[self.fault]
        if self.detail:
            text = f"{text}: {self.detail}"
        return text[:255]
