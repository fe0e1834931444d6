"""OCPI 2.2.1 status codes, from ``status_codes.asciidoc`` (repository ocpi/ocpi, tag 2.2.1).

These are the ``status_code`` values of the OCPI response envelope, distinct from HTTP codes:
1xxx success, 2xxx client errors, 3xxx server errors, 4xxx hub errors. The x9xx ranges
(1900-1999, 2900-2999, 3900-3999, 4900-4999) are reserved for custom codes.
"""

from enum import IntEnum

__all__ = ["OcpiStatus", "is_custom", "is_success"]


class OcpiStatus(IntEnum):
    # 1xxx: Success
    SUCCESS = 1000  # Generic success code

    # 2xxx: Client errors - the data sent by the client can not be processed by the server
    CLIENT_ERROR = 2000  # Generic client error
    INVALID_OR_MISSING_PARAMETERS = 2001  # e.g. missing last_updated field in a PATCH request
    NOT_ENOUGH_INFORMATION = 2002  # e.g. authorization request with too little information
    UNKNOWN_LOCATION = 2003  # e.g. Command START_SESSION with unknown location
    UNKNOWN_TOKEN = 2004  # e.g. 'real-time' authorization of an unknown Token

    # 3xxx: Server errors - the server encountered an internal error
    SERVER_ERROR = 3000  # Generic server error
    UNABLE_TO_USE_CLIENT_API = 3001  # e.g. a GET on the other party fails during credentials registration
    UNSUPPORTED_VERSION = 3002  # Unsupported version
    NO_MATCHING_ENDPOINTS = 3003  # no mutual modules/endpoints, or expected endpoints missing (registration)

    # 4xxx: Hub errors - errors a Hub encounters while routing messages
    HUB_ERROR = 4000  # Generic error
    UNKNOWN_RECEIVER = 4001  # Unknown receiver (TO address is unknown)
    HUB_TIMEOUT = 4002  # Timeout on forwarded request (message is forwarded, but request times out)
    CONNECTION_PROBLEM = 4003  # Connection problem (receiving party is not connected)


def is_success(code: int) -> bool:
    """True for the 1xxx (success) range, including custom 19xx codes."""
    return 1000 <= code <= 1999


def is_custom(code: int) -> bool:
    """True for the reserved custom ranges 1900-1999, 2900-2999, 3900-3999, 4900-4999."""
    return 1000 <= code <= 4999 and code % 1000 >= 900
