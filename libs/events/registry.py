"""Every event type of the contract, by its `type` string."""

from __future__ import annotations

from libs.events import control, reference, sessions, station, transactions
from libs.events.envelope import Event

EVENT_CLASSES: tuple[type[Event], ...] = (
    station.StationBooted,
    station.StationHeartbeat,
    station.StationStatusChanged,
    station.StationConnected,
    station.StationDisconnected,
    station.FirmwareStatusChanged,
    station.DiagnosticsStatusChanged,
    station.SecurityEventReported,
    station.StationEventsNotified,
    station.StationReported,
    station.DataTransferReceived,
    station.TokenAuthorized,
    station.StationPresence,
    station.GatewayLease,
    transactions.TransactionStarted,
    transactions.TransactionUpdated,
    transactions.TransactionEnded,
    transactions.MeterSampled,
    transactions.OcppFrameLogged,
    control.CommandRequested,
    control.CommandResult,
    control.AuthRequested,
    control.AuthResponded,
    sessions.SessionUpdated,
    sessions.CdrIssued,
    reference.LocationPublished,
    reference.TariffPublished,
    reference.TokenPublished,
    reference.CredentialPublished,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in EVENT_CLASSES}
assert len(EVENT_TYPES) == len(EVENT_CLASSES), "duplicate event type"
