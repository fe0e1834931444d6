"""OCPP 2.0.1 charger-initiated messages -> the same normalised events as 1.6 (docs/events.md)."""

from __future__ import annotations

from ocpp.routing import after, on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from libs.events.envelope import Source
from libs.events.identity import session_id
from libs.events.station import (
    Booted,
    DataTransfer,
    DataTransferReceived,
    DiagnosticsStatus,
    DiagnosticsStatusChanged,
    EventsNotified,
    FirmwareStatus,
    FirmwareStatusChanged,
    Heartbeat,
    Report,
    SecurityEvent,
    SecurityEventReported,
    StationBooted,
    StationEventsNotified,
    StationHeartbeat,
    StationReported,
    StationStatusChanged,
    StatusChanged,
)
from libs.events.transactions import (
    Ended,
    IdToken,
    MeterSampled,
    Started,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
    Updated,
)
from services.gateway.authorize import id_token_info
from services.gateway.errors import V201
from services.gateway.handlers import CallContext, Handlers, Reply
from services.gateway.normalise import energy_register, parse_time, v201_samples
from services.gateway.time import now_iso

TX_EVENTS = {"Started": (TransactionStarted, Started), "Updated": (TransactionUpdated, Updated),
             "Ended": (TransactionEnded, Ended)}


class V201Handlers(Handlers):
    protocol = V201
    source = Source.OCPP201

    @on(Action.boot_notification)
    async def on_boot(self, call: CallContext, charging_station: dict, reason: str, **kw) -> Reply:
        cs = call.payload["chargingStation"]
        modem = cs.get("modem") or {}
        status, interval = self.boot_status(call.station_id)
        booted = Booted(
            vendor=cs["vendorName"], model=cs["model"], serial_number=cs.get("serialNumber"),
            firmware_version=cs.get("firmwareVersion"), iccid=modem.get("iccid"), imsi=modem.get("imsi"),
            reason=reason, registration_status=status, heartbeat_interval=interval,
        )
        return Reply(call_result.BootNotification(current_time=now_iso(), interval=interval, status=status),
                     [self.fact(StationBooted, booted, call)])

    @after(Action.boot_notification)
    async def after_boot(self, call: CallContext, **kw) -> None:
        """Hook for issue 5 (e.g. GetBaseReport after the first accepted boot)."""

    @on(Action.heartbeat)
    async def on_heartbeat(self, call: CallContext, **kw) -> Reply:
        return Reply(call_result.Heartbeat(current_time=now_iso()), [self.fact(StationHeartbeat, Heartbeat(), call)])

    @on(Action.status_notification)
    async def on_status(self, call: CallContext, timestamp: str, connector_status: str, evse_id: int,
                        connector_id: int, **kw) -> Reply:
        payload = StatusChanged(evse_id=evse_id, connector_id=connector_id, status=connector_status)
        return Reply({}, [self.fact(StationStatusChanged, payload, call, parse_time(timestamp))])

    @on(Action.authorize)
    async def on_authorize(self, call: CallContext, id_token: dict, **kw) -> Reply:
        token = call.payload["idToken"]
        decision, event = await self.authorize(call, token["idToken"], token["type"], None)
        return Reply({"idTokenInfo": id_token_info(decision)}, [event])

    @on(Action.transaction_event)
    async def on_transaction_event(self, call: CallContext, event_type: str, timestamp: str,
                                   trigger_reason: str, seq_no: int, transaction_info: dict, **kw) -> Reply:
        p = call.payload
        info = p["transactionInfo"]
        ref = info["transactionId"]
        at = parse_time(timestamp)
        evse_obj = p.get("evse") or {}
        evse, connector = evse_obj.get("id"), evse_obj.get("connectorId")
        # A 2.0.1 station need name the EVSE only once per transaction, maybe without the connector:
        # the rest comes from transaction_evses.py (known on every replica, even after a failover).
        place = self.transactions.recall(call.station_id, ref)
        if place is not None and evse in (None, place.evse_id):
            evse, connector = place.evse_id, connector or place.connector_id
        sid = session_id(call.station_id, ref, None)
        ids = dict(transaction_ref=ref, session_id=sid, evse_id=evse, connector_id=connector)
        samples = v201_samples(p.get("meterValue") or [], **ids, seq_no=seq_no)
        events = []
        answer: dict = {}
        token = p.get("idToken")
        if token is not None:
            decision, auth_event = await self.authorize(call, token["idToken"], token["type"], evse)
            answer["idTokenInfo"] = id_token_info(decision)
            events.append(auth_event)
        common = dict(
            **ids, seq_no=seq_no, offline=p.get("offline", False), trigger_reason=trigger_reason,
            id_token=IdToken(id_token=token["idToken"], type=token["type"]) if token else None,
            charging_state=info.get("chargingState"),
        )
        event_cls, payload_cls = TX_EVENTS[event_type]
        if event_type == "Started":
            payload = payload_cls(**common, meter_start_wh=energy_register(samples, "Transaction.Begin"),
                                  reservation_id=p.get("reservationId"), remote_start_id=info.get("remoteStartId"))
        elif event_type == "Ended":
            payload = payload_cls(**common, meter_stop_wh=energy_register(samples, "Transaction.End"),
                                  stopped_reason=info.get("stoppedReason") or "Local", sample_count=len(samples))
        else:
            payload = payload_cls(**common)
        fact = self.fact(event_cls, payload, call, at)
        records = self.transactions.remember(fact) if "evse" in p else []
        events += [self.fact(MeterSampled, s, call, t) for t, s in samples]
        events.append(fact)
        return Reply(answer, events, records)

    @on(Action.meter_values)
    async def on_meter_values(self, call: CallContext, evse_id: int, meter_value: list, **kw) -> Reply:
        samples = v201_samples(call.payload["meterValue"], evse_id=evse_id)
        return Reply({}, [self.fact(MeterSampled, s, call, t) for t, s in samples])

    @on(Action.data_transfer)
    async def on_data_transfer(self, call: CallContext, vendor_id: str, **kw) -> Reply:
        payload = DataTransfer(vendor_id=vendor_id, message_id=kw.get("message_id"), data=call.payload.get("data"))
        return Reply({"status": "UnknownVendorId"}, [self.fact(DataTransferReceived, payload, call)])

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, call: CallContext, status: str, **kw) -> Reply:
        payload = FirmwareStatus(status=status, request_id=kw.get("request_id"))
        return Reply({}, [self.fact(FirmwareStatusChanged, payload, call)])

    @on(Action.log_status_notification)
    async def on_log_status(self, call: CallContext, status: str, **kw) -> Reply:
        payload = DiagnosticsStatus(status=status, request_id=kw.get("request_id"))
        return Reply({}, [self.fact(DiagnosticsStatusChanged, payload, call)])

    @on(Action.security_event_notification)
    async def on_security_event(self, call: CallContext, type: str, timestamp: str, **kw) -> Reply:
        payload = SecurityEvent(event_type=type, tech_info=kw.get("tech_info"))
        return Reply({}, [self.fact(SecurityEventReported, payload, call, parse_time(timestamp))])

    @on(Action.notify_event)
    async def on_notify_event(self, call: CallContext, generated_at: str, seq_no: int, event_data: list,
                              **kw) -> Reply:
        p = call.payload
        payload = EventsNotified(seq_no=seq_no, tbc=p.get("tbc", False), events=p["eventData"])
        return Reply({}, [self.fact(StationEventsNotified, payload, call, parse_time(generated_at))])

    @on(Action.notify_report)
    async def on_notify_report(self, call: CallContext, request_id: int, generated_at: str, seq_no: int,
                               **kw) -> Reply:
        p = call.payload
        payload = Report(request_id=request_id, seq_no=seq_no, tbc=p.get("tbc", False),
                         report_data=p.get("reportData") or [])
        return Reply({}, [self.fact(StationReported, payload, call, parse_time(generated_at))])
