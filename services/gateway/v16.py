"""OCPP 1.6J charger-initiated messages -> normalised events (docs/events.md)."""

from __future__ import annotations

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from libs.events.envelope import Source
from libs.events.identity import ocpp16_transaction_id, session_id
from libs.events.station import (
    Booted,
    DataTransfer,
    DataTransferReceived,
    DiagnosticsStatus,
    DiagnosticsStatusChanged,
    FirmwareStatus,
    FirmwareStatusChanged,
    Heartbeat,
    SecurityEvent,
    SecurityEventReported,
    StationBooted,
    StationHeartbeat,
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
from services.gateway.authorize import id_tag_info
from services.gateway.errors import V16
from services.gateway.handlers import CallContext, Handlers, Reply
from services.gateway.normalise import parse_time, v16_evse, v16_samples, v16_status
from services.gateway.time import now_iso


class V16Handlers(Handlers):
    protocol = V16
    source = Source.OCPP16

    @on(Action.boot_notification)
    async def on_boot(self, call: CallContext, charge_point_vendor: str, charge_point_model: str,
                      **kw) -> Reply:
        status, interval = self.boot_status(call.station_id)
        booted = Booted(
            vendor=charge_point_vendor, model=charge_point_model,
            serial_number=kw.get("charge_point_serial_number") or kw.get("charge_box_serial_number"),
            firmware_version=kw.get("firmware_version"), iccid=kw.get("iccid"), imsi=kw.get("imsi"),
            meter_type=kw.get("meter_type"), meter_serial_number=kw.get("meter_serial_number"),
            registration_status=status, heartbeat_interval=interval,
        )
        return Reply(call_result.BootNotification(current_time=now_iso(), interval=interval, status=status),
                     [self.fact(StationBooted, booted, call)])

    @after(Action.boot_notification)
    async def after_boot(self, call: CallContext, **kw) -> None:
        """Hook for issue 5 (e.g. push configuration after an accepted boot)."""

    @on(Action.heartbeat)
    async def on_heartbeat(self, call: CallContext) -> Reply:
        return Reply(call_result.Heartbeat(current_time=now_iso()), [self.fact(StationHeartbeat, Heartbeat(), call)])

    @on(Action.status_notification)
    async def on_status(self, call: CallContext, connector_id: int, error_code: str, status: str,
                        **kw) -> Reply:
        normalised, detail = v16_status(status)
        evse, connector = v16_evse(connector_id)
        payload = StatusChanged(
            evse_id=evse, connector_id=connector, status=normalised, detail=detail, error_code=error_code,
            info=kw.get("info"), vendor_id=kw.get("vendor_id"), vendor_error_code=kw.get("vendor_error_code"),
        )
        at = parse_time(kw.get("timestamp"))
        return Reply(call_result.StatusNotification(), [self.fact(StationStatusChanged, payload, call, at)])

    @on(Action.authorize)
    async def on_authorize(self, call: CallContext, id_tag: str) -> Reply:
        decision, event = await self.authorize(call, id_tag, None, None)
        return Reply({"idTagInfo": id_tag_info(decision)}, [event])

    @on(Action.start_transaction)
    async def on_start(self, call: CallContext, connector_id: int, id_tag: str, meter_start: int,
                       timestamp: str, reservation_id: int | None = None) -> Reply:
        started_at = parse_time(timestamp)
        evse, connector = v16_evse(connector_id)
        tx_id = ocpp16_transaction_id(call.station_id, connector_id, id_tag, meter_start, started_at)
        ref = str(tx_id)
        sid = session_id(call.station_id, tx_id, started_at)
        decision, auth_event = await self.authorize(call, id_tag, None, evse)
        started = self.fact(TransactionStarted, Started(
            transaction_ref=ref, session_id=sid, evse_id=evse, connector_id=connector,
            id_token=IdToken(id_token=id_tag), meter_start_wh=float(meter_start), reservation_id=reservation_id,
        ), call, started_at)
        # StopTransaction names neither connector nor start time: kept for any replica
        records = self.transactions.remember(started)
        return Reply({"transactionId": tx_id, "idTagInfo": id_tag_info(decision)}, [auth_event, started], records)

    @on(Action.stop_transaction)
    async def on_stop(self, call: CallContext, meter_stop: int, timestamp: str, transaction_id: int,
                      **kw) -> Reply:
        ended_at = parse_time(timestamp)
        ref = str(transaction_id)
        place = self.transactions.recall(call.station_id, ref)
        ids = dict(evse_id=place.evse_id if place else None, connector_id=place.connector_id if place else None,
                   transaction_ref=ref, session_id=place.session_id if place else None)
        samples = v16_samples(call.payload.get("transactionData") or [], **ids)
        events = []
        answer: dict = {}
        id_tag = kw.get("id_tag")
        if id_tag is not None:
            decision, auth_event = await self.authorize(call, id_tag, None, ids["evse_id"])
            answer["idTagInfo"] = id_tag_info(decision)
            events.append(auth_event)
        ended = Ended(
            **ids, id_token=IdToken(id_token=id_tag) if id_tag else None, meter_stop_wh=float(meter_stop),
            stopped_reason=kw.get("reason") or "Local",  # 1.6 §7.41: absent reason means Local
            sample_count=len(samples),
        )
        events += [self.fact(MeterSampled, s, call, at) for at, s in samples]
        events.append(self.fact(TransactionEnded, ended, call, ended_at))
        return Reply(answer, events)

    @on(Action.meter_values)
    async def on_meter_values(self, call: CallContext, connector_id: int, meter_value: list,
                              transaction_id: int | None = None) -> Reply:
        evse, connector = v16_evse(connector_id)
        ref = str(transaction_id) if transaction_id is not None else None
        place = self.transactions.recall(call.station_id, ref) if ref is not None else None
        sid = place.session_id if place else None
        samples = v16_samples(call.payload["meterValue"], evse_id=evse, connector_id=connector,
                              transaction_ref=ref, session_id=sid)
        events = [self.fact(MeterSampled, s, call, at) for at, s in samples]
        if ref is not None and samples:
            latest = max(at for at, _ in samples)
            events.append(self.fact(TransactionUpdated, Updated(
                transaction_ref=ref, session_id=sid, evse_id=evse, connector_id=connector), call, latest))
        return Reply(call_result.MeterValues(), events)

    @on(Action.data_transfer)
    async def on_data_transfer(self, call: CallContext, vendor_id: str, **kw) -> Reply:
        payload = DataTransfer(vendor_id=vendor_id, message_id=kw.get("message_id"), data=call.payload.get("data"))
        # 1.6 §4.3: no implementation for this vendorId -> UnknownVendorId (the fact is still kept)
        return Reply({"status": "UnknownVendorId"}, [self.fact(DataTransferReceived, payload, call)])

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, call: CallContext, status: str) -> Reply:
        return Reply({}, [self.fact(FirmwareStatusChanged, FirmwareStatus(status=status), call)])

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status(self, call: CallContext, status: str, request_id: int | None = None) -> Reply:
        return Reply({}, [self.fact(FirmwareStatusChanged, FirmwareStatus(status=status, request_id=request_id), call)])

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, call: CallContext, status: str) -> Reply:
        return Reply({}, [self.fact(DiagnosticsStatusChanged, DiagnosticsStatus(status=status), call)])

    @on(Action.log_status_notification)
    async def on_log_status(self, call: CallContext, status: str, request_id: int | None = None) -> Reply:
        return Reply({}, [self.fact(DiagnosticsStatusChanged, DiagnosticsStatus(status=status, request_id=request_id), call)])

    @on(Action.security_event_notification)
    async def on_security_event(self, call: CallContext, type: str, timestamp: str, **kw) -> Reply:
        payload = SecurityEvent(event_type=type, tech_info=kw.get("tech_info"))
        return Reply({}, [self.fact(SecurityEventReported, payload, call, parse_time(timestamp))])
