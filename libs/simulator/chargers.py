"""Simulated charge points of both OCPP versions, with the same high-level API.

Each wraps an `ocpp` ChargePoint: `await station.connect()`, then `boot()`, `status()`,
`authorize()`, `start()`, `meter()`, `stop()`, `heartbeat()`. Every CALL's round-trip time is
recorded in `latencies` (seconds), which the fleet bench reads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from libs.simulator.remote import Device, RemoteV16ChargePoint, RemoteV201ChargePoint

V16, V201 = "ocpp1.6", "ocpp2.0.1"
log = logging.getLogger("voltstream.simulator")


def iso(ts: datetime | None = None) -> str:
    return (ts or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def basic_auth(station_id: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{station_id}:{key}".encode()).decode()}


@dataclass
class MeterReading:
    energy_wh: float
    power_w: float
    current_a: float
    voltage_v: float = 230.0
    soc: float | None = None


@dataclass
class SimulatedStation:
    """Base: connection handling and timing; subclasses speak one OCPP version."""

    station_id: str
    url: str  # ws://host:port/ocpp  (the station id is appended)
    key: str | None = None
    validate: bool = True  # validate payloads with the OCA schemas (off for big benchmarks)
    response_timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # wss:// (security profiles 2 and 3: CA, client certificate)
    headers: dict[str, str] = field(default_factory=dict)  # more upgrade headers (tests: a TLS proxy's)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cp: Any = None
    ws: ClientConnection | None = None
    _reader: asyncio.Task | None = None
    _tx_seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    # what the charger keeps across reconnects; answers CSMS-initiated calls (libs/simulator/remote.py)
    device: Device = field(default_factory=Device)

    protocol = V16
    cp_class: ClassVar[type] = RemoteV16ChargePoint

    async def connect(self, open_timeout: float = 30.0) -> None:
        headers = (basic_auth(self.station_id, self.key) if self.key else {}) | self.headers
        self.ws = await connect(f"{self.url.rstrip('/')}/{self.station_id}", subprotocols=[self.protocol],
                                additional_headers=headers, open_timeout=open_timeout, ping_interval=None,
                                compression=None, ssl=self.ssl_context)
        self.cp = self.cp_class(self.station_id, self.ws, response_timeout=self.response_timeout)
        self.cp.device, self.cp.station = self.device, self
        if self.device.key is None:
            self.device.key = self.key
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            await self.cp.start()
        except Exception as exc:  # noqa: BLE001 - the connection ended (or a handler bug): say which
            if not isinstance(exc, ConnectionClosed):
                log.warning("simulator_reader_failed station=%s error=%r", self.station_id, exc)

    @property
    def connected(self) -> bool:
        return self.ws is not None and self._reader is not None and not self._reader.done()

    async def wait_closed(self) -> None:
        if self._reader:
            await asyncio.shield(self._reader)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def send(self, payload: Any) -> Any:
        t0 = time.perf_counter()
        try:
            result = await self.cp.call(payload, suppress=False, skip_schema_validation=not self.validate)
        except Exception:
            self.errors += 1
            raise
        self.latencies.append(time.perf_counter() - t0)
        return result


class V16Station(SimulatedStation):
    protocol = V16
    cp_class = RemoteV16ChargePoint

    async def boot(self) -> Any:
        return await self.send(call16.BootNotification(charge_point_vendor="Voltstream", charge_point_model="SimAC",
                                                       charge_point_serial_number=self.station_id, firmware_version="1.0"))

    async def heartbeat(self) -> Any:
        return await self.send(call16.Heartbeat())

    async def status(self, evse: int, status: str, error_code: str = "NoError") -> Any:
        return await self.send(call16.StatusNotification(connector_id=evse, error_code=error_code, status=status,
                                                         timestamp=iso()))

    async def authorize(self, id_tag: str) -> str:
        return (await self.send(call16.Authorize(id_tag=id_tag))).id_tag_info["status"]

    async def start(self, evse: int, id_tag: str, meter_wh: int) -> str:
        result = await self.send(call16.StartTransaction(connector_id=evse, id_tag=id_tag, meter_start=meter_wh,
                                                         timestamp=iso()))
        return str(result.transaction_id)

    async def meter(self, evse: int, tx: str | None, r: MeterReading, context: str = "Sample.Periodic") -> Any:
        sampled = [
            {"value": f"{r.energy_wh:.0f}", "context": context, "measurand": "Energy.Active.Import.Register",
             "unit": "Wh", "location": "Outlet"},
            {"value": f"{r.power_w / 1000:.3f}", "context": context, "measurand": "Power.Active.Import",
             "unit": "kW", "location": "Outlet"},
            {"value": f"{r.current_a:.1f}", "context": context, "measurand": "Current.Import", "unit": "A",
             "phase": "L1", "location": "Outlet"},
        ]
        if r.soc is not None:
            sampled.append({"value": f"{r.soc:.0f}", "context": context, "measurand": "SoC", "unit": "Percent",
                            "location": "EV"})
        return await self.send(call16.MeterValues(
            connector_id=evse, transaction_id=int(tx) if tx else None,
            meter_value=[{"timestamp": iso(), "sampled_value": sampled}]))

    async def stop(self, evse: int, tx: str, id_tag: str, meter_wh: int, reason: str = "Local") -> Any:
        return await self.send(call16.StopTransaction(meter_stop=meter_wh, timestamp=iso(), transaction_id=int(tx),
                                                      id_tag=id_tag, reason=reason))


class V201Station(SimulatedStation):
    protocol = V201
    cp_class = RemoteV201ChargePoint

    async def boot(self) -> Any:
        return await self.send(call201.BootNotification(
            charging_station={"model": "SimDC", "vendor_name": "Voltstream", "serial_number": self.station_id,
                              "firmware_version": "1.0"}, reason="PowerUp"))

    async def heartbeat(self) -> Any:
        return await self.send(call201.Heartbeat())

    async def status(self, evse: int, status: str, error_code: str = "NoError") -> Any:
        status = {"Preparing": "Occupied", "Charging": "Occupied", "SuspendedEV": "Occupied",
                  "SuspendedEVSE": "Occupied", "Finishing": "Occupied"}.get(status, status)
        return await self.send(call201.StatusNotification(timestamp=iso(), connector_status=status, evse_id=evse,
                                                          connector_id=1))

    async def authorize(self, id_tag: str) -> str:
        result = await self.send(call201.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
        return result.id_token_info["status"]

    def _samples(self, r: MeterReading, context: str) -> list[dict]:
        out = [
            {"value": round(r.energy_wh, 1), "context": context, "measurand": "Energy.Active.Import.Register",
             "unit_of_measure": {"unit": "Wh"}},
            {"value": round(r.power_w / 1000, 3), "context": context, "measurand": "Power.Active.Import",
             "unit_of_measure": {"unit": "kW"}},
        ]
        if r.soc is not None:
            out.append({"value": round(r.soc), "context": context, "measurand": "SoC", "location": "EV",
                        "unit_of_measure": {"unit": "Percent"}})
        return out

    async def _tx_event(self, event_type: str, tx: str, trigger: str, evse: int, r: MeterReading | None,
                        context: str, id_tag: str | None = None, state: str | None = None,
                        stopped_reason: str | None = None) -> Any:
        info: dict[str, Any] = {"transaction_id": tx}
        if state:
            info["charging_state"] = state
        if stopped_reason:
            info["stopped_reason"] = stopped_reason
        return await self.send(call201.TransactionEvent(
            event_type=event_type, timestamp=iso(), trigger_reason=trigger, seq_no=next(self._tx_seq),
            transaction_info=info, evse={"id": evse, "connector_id": 1} if event_type == "Started" else None,
            id_token={"id_token": id_tag, "type": "ISO14443"} if id_tag else None,
            meter_value=[{"timestamp": iso(), "sampled_value": self._samples(r, context)}] if r else None))

    async def start(self, evse: int, id_tag: str, meter_wh: int) -> str:
        tx = f"{self.station_id}-{int(time.time() * 1000)}-{evse}"
        await self._tx_event("Started", tx, "Authorized", evse, MeterReading(meter_wh, 0, 0), "Transaction.Begin",
                             id_tag=id_tag, state="EVConnected")
        return tx

    async def meter(self, evse: int, tx: str | None, r: MeterReading, context: str = "Sample.Periodic") -> Any:
        if tx is None:
            return await self.send(call201.MeterValues(
                evse_id=evse, meter_value=[{"timestamp": iso(), "sampled_value": self._samples(r, context)}]))
        state = "Charging" if r.power_w > 0 else "SuspendedEV"
        return await self._tx_event("Updated", tx, "MeterValuePeriodic", evse, r, context, state=state)

    async def stop(self, evse: int, tx: str, id_tag: str, meter_wh: int, reason: str = "Local") -> Any:
        return await self._tx_event("Ended", tx, "StopAuthorized", evse, MeterReading(meter_wh, 0, 0),
                                    "Transaction.End", id_tag=id_tag, stopped_reason=reason, state="EVConnected")


def station_class(protocol: str) -> type[SimulatedStation]:
    return V16Station if protocol == V16 else V201Station
