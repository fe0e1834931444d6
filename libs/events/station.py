"""Station facts (topic station-events), presence (station-presence) and gateway leases."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime

from libs.events.envelope import Event, Payload

STATION_EVENTS = "station-events"


class ConnectorStatus(StrEnum):
    """Version-neutral connector status (the 2.0.1 set; 1.6 detail kept in `detail`)."""

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class BootStatus(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class Booted(Payload):
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None  # 2.0.1 BootReason; None for 1.6
    registration_status: BootStatus
    heartbeat_interval: int


class StationBooted(Event):
    TYPE: ClassVar[str] = "station.booted"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["station.booted"] = "station.booted"
    payload: Booted


class Heartbeat(Payload):
    pass


class StationHeartbeat(Event):
    TYPE: ClassVar[str] = "station.heartbeat"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["station.heartbeat"] = "station.heartbeat"
    payload: Heartbeat


class StatusChanged(Payload):
    """evse_id 0 is the whole station (1.6 connector 0). 1.6 connector N is EVSE N, connector 1."""

    evse_id: int
    connector_id: int | None = None
    status: ConnectorStatus
    detail: str | None = None  # 1.6 Preparing/Charging/SuspendedEV/SuspendedEVSE/Finishing
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


class StationStatusChanged(Event):
    TYPE: ClassVar[str] = "station.status_changed"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = (
        "station_id", "payload.evse_id", "payload.connector_id", "payload.status", "payload.detail",
        "occurred_at",
    )
    type: Literal["station.status_changed"] = "station.status_changed"
    payload: StatusChanged


class Connection(Payload):
    gateway_instance: str
    connection_id: str
    protocol: str
    remote_address: str | None = None
    reason: str | None = None  # for disconnects: closed, ping_timeout, heartbeat_missed, replaced, …


class StationConnected(Event):
    TYPE: ClassVar[str] = "station.connected"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.connection_id")
    type: Literal["station.connected"] = "station.connected"
    payload: Connection


class StationDisconnected(Event):
    TYPE: ClassVar[str] = "station.disconnected"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.connection_id")
    type: Literal["station.disconnected"] = "station.disconnected"
    payload: Connection


class FirmwareStatus(Payload):
    status: str
    request_id: int | None = None


class FirmwareStatusChanged(Event):
    TYPE: ClassVar[str] = "station.firmware_status"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["station.firmware_status"] = "station.firmware_status"
    payload: FirmwareStatus


class DiagnosticsStatus(Payload):
    """1.6 DiagnosticsStatusNotification and 2.0.1 LogStatusNotification."""

    status: str
    request_id: int | None = None


class DiagnosticsStatusChanged(Event):
    TYPE: ClassVar[str] = "station.diagnostics_status"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["station.diagnostics_status"] = "station.diagnostics_status"
    payload: DiagnosticsStatus


class SecurityEvent(Payload):
    event_type: str
    tech_info: str | None = None


class SecurityEventReported(Event):
    TYPE: ClassVar[str] = "station.security_event"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.event_type", "occurred_at")
    type: Literal["station.security_event"] = "station.security_event"
    payload: SecurityEvent


class EventsNotified(Payload):
    """2.0.1 NotifyEvent, event data kept as the charger sent it."""

    seq_no: int
    tbc: bool = False
    events: list[dict[str, Any]]


class StationEventsNotified(Event):
    TYPE: ClassVar[str] = "station.events_notified"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.seq_no", "occurred_at")
    type: Literal["station.events_notified"] = "station.events_notified"
    payload: EventsNotified


class Report(Payload):
    """2.0.1 NotifyReport (one part of a possibly multi-part report)."""

    request_id: int
    seq_no: int
    tbc: bool = False
    report_data: list[dict[str, Any]] = []


class StationReported(Event):
    TYPE: ClassVar[str] = "station.report"
    TOPIC: ClassVar[str] = STATION_EVENTS
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.request_id", "payload.seq_no", "occurred_at")
    type: Literal["station.report"] = "station.report"
    payload: Report


class DataTransfer(Payload):
    vendor_id: str
    message_id: str | None = None
    data: Any = None


class DataTransferReceived(Event):
    TYPE: ClassVar[str] = "station.data_transfer"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["station.data_transfer"] = "station.data_transfer"
    payload: DataTransfer


class AuthDecision(Payload):
    """One authorisation decision taken for a token presented at a station."""

    id_token: str
    token_type: str | None = None
    evse_id: int | None = None
    status: str  # Accepted, Blocked, Expired, Invalid, ConcurrentTx, Unknown, NoCredit, …
    decided_by: str  # index, realtime, fallback, unknown
    token_key: str | None = None  # country/party/uid/type of the matched token
    group_id: str | None = None
    expires_at: AwareDatetime | None = None
    authorization_reference: str | None = None


class TokenAuthorized(Event):
    TYPE: ClassVar[str] = "token.authorized"
    TOPIC: ClassVar[str] = STATION_EVENTS
    type: Literal["token.authorized"] = "token.authorized"
    payload: AuthDecision


class Presence(Payload):
    online: bool
    gateway_instance: str
    connection_id: str
    since: AwareDatetime


class StationPresence(Event):
    """Compacted latest presence per station; trust it only while its gateway's lease is alive."""

    TYPE: ClassVar[str] = "station.presence"
    TOPIC: ClassVar[str] = "station-presence"
    IDENTITY: ClassVar[tuple[str, ...]] = ("station_id", "payload.connection_id", "payload.online")
    type: Literal["station.presence"] = "station.presence"
    payload: Presence


class Lease(Payload):
    instance_id: str
    renewed_at: AwareDatetime
    expires_at: AwareDatetime

    def alive(self, now: datetime) -> bool:
        return now < self.expires_at


class GatewayLease(Event):
    TYPE: ClassVar[str] = "gateway.lease"
    TOPIC: ClassVar[str] = "gateway-instances"
    IDENTITY: ClassVar[tuple[str, ...]] = ("payload.instance_id", "payload.renewed_at")
    KEY: ClassVar[str] = "instance_id"
    type: Literal["gateway.lease"] = "gateway.lease"
    payload: Lease
