"""What v16 / v201 handler classes share: the call context, the reply, event construction,
and the station-level state the handlers keep between messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.routing import create_route_map

from libs.events.envelope import Event, Payload, Source
from libs.events.station import AuthDecision, TokenAuthorized
from services.gateway.authorize import Authorizer
from services.gateway.spool import KeyedRecord
from services.gateway.transaction_evses import TransactionEvses


@dataclass(frozen=True)
class CallContext:
    station_id: str
    connection_id: str
    seq: int  # frame sequence number on this connection
    received_at: datetime
    message_id: str
    action: str
    payload: dict[str, Any]  # as received (camelCase)


@dataclass
class Reply:
    """The CALLRESULT payload (an ocpp call_result dataclass or a camelCase dict) and the events
    (and records of the gateway's views, e.g. transaction_evses.py) that must be durable before
    it is sent."""

    payload: Any
    events: list[Event] = field(default_factory=list)
    records: list[KeyedRecord] = field(default_factory=list)

    def payload_json(self) -> dict[str, Any]:
        if isinstance(self.payload, dict):
            return self.payload
        return snake_to_camel_case(remove_nones(serialize_as_dict(self.payload)))


@dataclass
class BootPolicy:
    heartbeat_interval: int = 300
    unknown_station_status: str = "Rejected"  # Pending or Rejected (auth off, station not in the catalog)
    retry_interval: int = 60  # the interval sent with Pending / Rejected


class Handlers:
    """Base of the per-version handler classes: `@on(Action)` methods receive the payload as
    snake_case keyword arguments plus `call` (the CallContext) and return a Reply."""

    protocol: str
    source: Source
    # Actions a charging station may send to a CSMS (the rest of the version's actions exist,
    # but are CSMS -> station: answered NotSupported).
    CHARGER_ACTIONS: frozenset[str] = frozenset()

    def __init__(self, authorizer: Authorizer, boot: BootPolicy, transactions: TransactionEvses,
                 known_station):
        self.authorizer = authorizer
        self.boot = boot
        self.transactions = transactions
        self.known_station = known_station  # (station_id) -> bool
        self.route_map = create_route_map(self)

    def supported(self) -> set[str]:
        return {a for a, h in self.route_map.items() if "_on_action" in h}

    def fact(self, cls: type[Event], payload: Payload, call: CallContext,
             occurred_at: datetime | None = None) -> Event:
        return cls.create(payload=payload, source=self.source, station_id=call.station_id,
                          occurred_at=occurred_at, received_at=call.received_at,
                          frame_identity=(call.connection_id, call.seq))

    async def authorize(self, call: CallContext, id_token: str, token_type: str | None,
                        evse_id: int | None) -> tuple[AuthDecision, Event]:
        decision = await self.authorizer.decide(call.station_id, id_token, token_type, evse_id)
        return decision, self.fact(TokenAuthorized, decision, call)

    def boot_status(self, station_id: str) -> tuple[str, int]:
        if self.known_station(station_id):
            return "Accepted", self.boot.heartbeat_interval
        return self.boot.unknown_station_status, self.boot.retry_interval
