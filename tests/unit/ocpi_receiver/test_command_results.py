"""The charger's answer → OCPI CommandResultType, and the reservation ids sent to chargers."""

from __future__ import annotations

import pytest

from libs.events.control import CommandAnswer, CommandKind, CommandOutcome
from libs.ocpi.types import CommandResultType
from services.ocpi.command_results import command_result
from services.ocpi.reservations import ocpp_reservation_id

K = CommandKind
O = CommandOutcome  # noqa: E741


@pytest.mark.parametrize(("kind", "outcome", "status", "expected"), [
    (K.REMOTE_START, O.ANSWERED, "Accepted", "ACCEPTED"),
    (K.UNLOCK_CONNECTOR, O.ANSWERED, "Unlocked", "ACCEPTED"),
    (K.UNLOCK_CONNECTOR, O.ANSWERED, "UnlockFailed", "FAILED"),
    (K.UNLOCK_CONNECTOR, O.ANSWERED, "OngoingAuthorizedTransaction", "EVSE_OCCUPIED"),
    (K.UNLOCK_CONNECTOR, O.ANSWERED, "NotSupported", "NOT_SUPPORTED"),
    (K.RESERVE_NOW, O.ANSWERED, "Occupied", "EVSE_OCCUPIED"),
    (K.RESERVE_NOW, O.ANSWERED, "Faulted", "EVSE_INOPERATIVE"),
    (K.RESERVE_NOW, O.ANSWERED, "Unavailable", "EVSE_INOPERATIVE"),
    (K.RESERVE_NOW, O.ANSWERED, "Rejected", "REJECTED"),
    (K.CANCEL_RESERVATION, O.ANSWERED, "Rejected", "UNKNOWN_RESERVATION"),
    (K.REMOTE_STOP, O.ANSWERED, "Rejected", "REJECTED"),
    (K.REMOTE_START, O.CALL_ERROR, "NotImplemented", "NOT_SUPPORTED"),
    (K.REMOTE_START, O.CALL_ERROR, "InternalError", "FAILED"),
    (K.REMOTE_START, O.CHARGER_TIMEOUT, None, "TIMEOUT"),
    (K.REMOTE_START, O.TIMEOUT, None, "TIMEOUT"),
    (K.REMOTE_START, O.STATION_OFFLINE, None, "FAILED"),
    (K.REMOTE_START, O.REJECTED_BY_GATEWAY, None, "FAILED"),
])
def test_command_result_types(kind, outcome, status, expected):
    result, _ = command_result(kind, CommandAnswer(command_id="c", outcome=outcome, status=status))
    assert result == expected
    assert result in CommandResultType.__members__


def test_reservation_ids_are_stable_per_sender_and_distinct_between_senders():
    a = ocpp_reservation_id("NL/EMS", "R-1")
    assert a == ocpp_reservation_id("NL/EMS", "R-1") and 1 <= a < 2 ** 31
    assert a != ocpp_reservation_id("BE/OTH", "R-1")
