"""Drives libs/simulator stations through scripted sessions, like a real charger would:

- every CALL is built once (fixed charger timestamp, fixed seqNo) and re-sent until answered,
  on whichever gateway replica the station reaches (OCPP chargers re-send transaction messages);
- a lost connection is re-established on the next gateway URL, without a BootNotification
  (a reboot would close the open session); a test can hold reconnection with `gate`;
- it records what it sent: sessions (start/stop time, energy) and meter samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.exceptions import ConnectionClosed

from libs.simulator.chargers import V16, SimulatedStation, station_class
from tests.e2e.catalog import StationSpec


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> datetime:
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@dataclass
class SentSession:
    station_id: str
    evse_uid: str
    location_id: str
    tariff_id: str
    start: datetime
    meter_start_wh: int
    stop: datetime | None = None
    meter_stop_wh: int | None = None
    samples: int = 0  # meter samples (one per sampled value) in this session's messages
    stop_answered: float | None = None  # time.monotonic() when the gateway answered the stop

    @property
    def energy_wh(self) -> int:
        assert self.meter_stop_wh is not None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass
class Charger:
    spec: StationSpec
    urls: list[str]
    meter_interval: float = 1.0
    step_wh: int = 0  # energy per meter interval; default derived from the station index
    reconnect_timeout: float = 180.0
    call_timeout: float = 60.0
    energy_wh: int = 0
    station: SimulatedStation = None  # type: ignore[assignment]
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: list[SentSession] = field(default_factory=list)
    samples_sent: int = 0
    reconnects: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    url_index: int = 0
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _up: bool = False

    def __post_init__(self) -> None:
        self.gate.set()
        self.url_index = self.spec.home
        n = int(self.spec.station_id.rsplit("-", 1)[1])
        self.step_wh = self.step_wh or 97 + 31 * n  # distinct, not round: sums and prices are checkable
        self.energy_wh = 1_000_000 * (n + 1) + 17 * n
        self.station = station_class(self.spec.protocol)(self.spec.station_id, self.urls[self.url_index],
                                                         self.spec.key, response_timeout=self.call_timeout)

    @property
    def v16(self) -> bool:
        return self.spec.protocol == V16

    @property
    def url(self) -> str:
        return self.station.url

    # --- connection -----------------------------------------------------------------------
    async def _ensure(self) -> None:
        if self.station.connected:
            return
        if self._up:  # the connection dropped while the charger was idle
            await self._lost()
        await self.gate.wait()
        async with asyncio.timeout(self.reconnect_timeout):
            while True:
                self.station.url = self.urls[self.url_index % len(self.urls)]
                try:
                    await self.station.connect(open_timeout=10)
                    self.disconnected.clear()
                    self._up = True
                    return
                except (OSError, TimeoutError, ConnectionClosed, Exception):  # noqa: BLE001 - try the next replica
                    with contextlib.suppress(Exception):
                        await self.station.close()
                    self.url_index += 1
                    await asyncio.sleep(0.3)

    async def _lost(self) -> None:
        self._up = False
        self.disconnected.set()
        with contextlib.suppress(Exception):
            await self.station.close()
        self.url_index += 1  # fail over to the other replica
        self.reconnects += 1

    async def call(self, payload):
        """Send until answered; a CALLERROR from the gateway is a failure (raised)."""
        while True:
            await self._ensure()
            reader = self.station._reader
            send = asyncio.ensure_future(self.station.send(payload))
            done, _ = await asyncio.wait({send, reader}, timeout=self.call_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if send in done:
                try:
                    return send.result()
                except (ConnectionClosed, OSError, TimeoutError):
                    pass
            else:
                send.cancel()
                with contextlib.suppress(BaseException):
                    await send
            await self._lost()

    async def connect_and_boot(self) -> None:
        await self._ensure()
        if self.v16:
            await self.call(call16.BootNotification(charge_point_vendor="Voltstream", charge_point_model="E2E",
                                                    charge_point_serial_number=self.spec.station_id))
        else:
            await self.call(call201.BootNotification(
                charging_station={"model": "E2E", "vendor_name": "Voltstream"}, reason="PowerUp"))
        await self.status("Available")

    async def close(self) -> None:
        await self.station.close()

    # --- messages -----------------------------------------------------------------------
    async def status(self, status: str) -> None:
        if self.v16:
            await self.call(call16.StatusNotification(connector_id=1, error_code="NoError", status=status,
                                                      timestamp=iso(now())))
        else:
            status = {"Preparing": "Occupied", "Charging": "Occupied", "Finishing": "Occupied"}.get(status, status)
            await self.call(call201.StatusNotification(timestamp=iso(now()), connector_status=status, evse_id=1,
                                                       connector_id=1))

    def _v16_meter(self, tx: int, energy: int, power_w: float, context: str) -> call16.MeterValues:
        sampled = [
            {"value": str(energy), "context": context, "measurand": "Energy.Active.Import.Register", "unit": "Wh",
             "location": "Outlet"},
            {"value": f"{power_w / 1000:.3f}", "context": context, "measurand": "Power.Active.Import", "unit": "kW",
             "location": "Outlet"},
            {"value": f"{power_w / 230 / 3:.1f}", "context": context, "measurand": "Current.Import", "unit": "A",
             "phase": "L1", "location": "Outlet"},
        ]
        return call16.MeterValues(connector_id=1, transaction_id=tx,
                                  meter_value=[{"timestamp": iso(now()), "sampled_value": sampled}])

    def _v201_tx(self, event_type: str, tx: str, trigger: str, energy: int, power_w: float, context: str,
                 state: str, tag: str | None = None, stopped: str | None = None) -> call201.TransactionEvent:
        info = {"transaction_id": tx, "charging_state": state}
        if stopped:
            info["stopped_reason"] = stopped
        t = iso(now())
        sampled = [
            {"value": energy, "context": context, "measurand": "Energy.Active.Import.Register",
             "unit_of_measure": {"unit": "Wh"}},
            {"value": round(power_w / 1000, 3), "context": context, "measurand": "Power.Active.Import",
             "unit_of_measure": {"unit": "kW"}},
        ]
        return call201.TransactionEvent(
            event_type=event_type, timestamp=t, trigger_reason=trigger, seq_no=next(self._seq),
            transaction_info=info, evse={"id": 1, "connector_id": 1} if event_type == "Started" else None,
            id_token={"id_token": tag, "type": "ISO14443"} if tag else None,
            meter_value=[{"timestamp": t, "sampled_value": sampled}])

    async def run_session(self, tag: str, samples: int | None = None, stop: asyncio.Event | None = None,
                          sample_event: asyncio.Event | None = None) -> SentSession:
        """One session: `samples` periodic meter values, or until `stop` is set (at least one)."""
        s = self.spec
        if self.v16:
            result = await self.call(call16.Authorize(id_tag=tag))
            assert result.id_tag_info["status"] == "Accepted", result
        else:
            result = await self.call(call201.Authorize(id_token={"id_token": tag, "type": "ISO14443"}))
            assert result.id_token_info["status"] == "Accepted", result
        await self.status("Preparing")
        start = now()
        session = SentSession(s.station_id, s.evse_uid, s.location_id, s.tariff_id, start, self.energy_wh)
        self.sessions.append(session)
        power = self.step_wh * 3600 / self.meter_interval
        if self.v16:
            result = await self.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=self.energy_wh,
                                                             timestamp=iso(start)))
            assert result.id_tag_info["status"] == "Accepted", result
            tx16 = result.transaction_id
            await self.status("Charging")
            await self.call(self._v16_meter(tx16, self.energy_wh, 0.0, "Transaction.Begin"))
            self._count(session, 3)
        else:
            tx = f"{s.station_id}-{int(start.timestamp() * 1000)}"
            started = self._v201_tx("Started", tx, "Authorized", self.energy_wh, 0.0, "Transaction.Begin",
                                    "EVConnected", tag=tag)
            started.timestamp = iso(start)
            started.meter_value[0]["timestamp"] = iso(start)
            await self.call(started)
            self._count(session, 2)
            await self.status("Charging")
        sent = 0
        while True:
            if samples is not None and sent >= samples:
                break
            if stop is not None and sent >= 1 and stop.is_set():
                break
            await asyncio.sleep(self.meter_interval)
            self.energy_wh += self.step_wh
            if self.v16:
                await self.call(self._v16_meter(tx16, self.energy_wh, power, "Sample.Periodic"))
                self._count(session, 3)
            else:
                await self.call(self._v201_tx("Updated", tx, "MeterValuePeriodic", self.energy_wh, power,
                                              "Sample.Periodic", "Charging"))
                self._count(session, 2)
            sent += 1
            if sample_event is not None:
                sample_event.set()
        await self.status("Finishing")
        stop_at = now()
        if self.v16:
            result = await self.call(call16.StopTransaction(meter_stop=self.energy_wh, timestamp=iso(stop_at),
                                                            transaction_id=tx16, id_tag=tag, reason="Local"))
        else:
            ended = self._v201_tx("Ended", tx, "StopAuthorized", self.energy_wh, 0.0, "Transaction.End",
                                  "EVConnected", tag=tag, stopped="Local")
            ended.timestamp = ended.meter_value[0]["timestamp"] = iso(stop_at)
            await self.call(ended)
            self._count(session, 2)
        session.stop, session.meter_stop_wh = stop_at, self.energy_wh
        session.stop_answered = time.monotonic()
        await self.status("Available")
        return session

    def _count(self, session: SentSession, n: int) -> None:
        session.samples += n
        self.samples_sent += n
