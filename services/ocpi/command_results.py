"""The charger's answer to a command → OCPI 2.2.1 CommandResultType (mod_commands.asciidoc).

| outcome (libs/events/control)              | CommandResult                                        |
|--------------------------------------------|------------------------------------------------------|
| answered Accepted / Unlocked               | ACCEPTED                                             |
| answered Occupied                          | EVSE_OCCUPIED ("another session is ongoing")         |
| answered Faulted / Unavailable             | EVSE_INOPERATIVE ("inoperative or faulted")          |
| answered Rejected (CancelReservation)      | UNKNOWN_RESERVATION (OCPP: no matching reservation)  |
| answered Rejected                          | REJECTED                                             |
| answered NotSupported / UnknownConnector   | NOT_SUPPORTED                                        |
| answered other (UnlockFailed, …)           | FAILED                                               |
| call_error NotImplemented / NotSupported   | NOT_SUPPORTED                                        |
| call_error other, rejected_by_gateway      | FAILED                                               |
| station_offline                            | FAILED (the charge point is not connected)           |
| charger_timeout / timeout                  | TIMEOUT                                              |
"""

from __future__ import annotations

from libs.events.control import CommandAnswer, CommandKind, CommandOutcome

OCCUPIED = {"Occupied", "OngoingAuthorizedTransaction"}
INOPERATIVE = {"Faulted", "Unavailable"}
NOT_SUPPORTED = {"NotSupported", "UnknownConnector"}


def command_result(kind: CommandKind, answer: CommandAnswer) -> tuple[str, str | None]:
    """(CommandResultType, human-readable message or None)."""
    outcome, status = answer.outcome, answer.status
    if outcome == CommandOutcome.ANSWERED:
        if status in ("Accepted", "Unlocked"):
            return "ACCEPTED", None
        if status in OCCUPIED:
            return "EVSE_OCCUPIED", f"charge point answered {status}"
        if status in INOPERATIVE:
            return "EVSE_INOPERATIVE", f"charge point answered {status}"
        if status == "Rejected" and kind == CommandKind.CANCEL_RESERVATION:
            return "UNKNOWN_RESERVATION", "the charge point has no such reservation"
        if status == "Rejected":
            return "REJECTED", "rejected by the charge point"
        if status in NOT_SUPPORTED:
            return "NOT_SUPPORTED", f"charge point answered {status}"
        return "FAILED", f"charge point answered {status}"
    if outcome == CommandOutcome.CALL_ERROR:
        if status in ("NotImplemented", "NotSupported"):
            return "NOT_SUPPORTED", f"charge point answered {status}"
        return "FAILED", f"charge point error {status}"
    if outcome in (CommandOutcome.CHARGER_TIMEOUT, CommandOutcome.TIMEOUT):
        return "TIMEOUT", "no answer from the charge point in time"
    if outcome == CommandOutcome.STATION_OFFLINE:
        return "FAILED", "the charge point is offline"
    return "FAILED", answer.error or "the command could not be sent to the charge point"
