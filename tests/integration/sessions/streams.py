"""Builders of the event streams a gateway would produce for one charger (1.6 or 2.0.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from libs.events import identity
from libs.events.control import CommandRequested
from libs.events.envelope import Event, Source
from libs.events.station import StationBooted, TokenAuthorized
from libs.events.transactions import MeterSampled, TransactionEnded, TransactionStarted, TransactionUpdated


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class Charger:
    """One station speaking one protocol; `t(m)` is minute m of the scenario (charger clock)."""

    station_id: str
    proto: str  # "1.6" or "2.0.1"
    base: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    received: datetime | None = None  # gateway clock; default: now at build time
    evse: int = 1
    connector: int = 1
    with_session_id: bool = False  # 1.6: whether the gateway put the session_id on every fact

    @property
    def source(self) -> Source:
        return Source.OCPP16 if self.proto == "1.6" else Source.OCPP201

    def t(self, m: float) -> datetime:
        return self.base + minutes(m)

    def _rx(self) -> datetime:
        return self.received or datetime.now(UTC)

    def tx_ref(self, token: str, meter_start: float, start_min: float, tx: str | None = None) -> str:
        if self.proto == "2.0.1":
            return tx or f"{self.station_id}-tx-{start_min}"
        return str(identity.ocpp16_transaction_id(self.station_id, self.connector, token, int(meter_start),
                                                  self.t(start_min)))

    def session_id(self, tx_ref: str, start_min: float) -> str:
        if self.proto == "2.0.1":
            return identity.session_id(self.station_id, tx_ref, None)
        return identity.session_id(self.station_id, tx_ref, self.t(start_min))

    def _sid(self, tx_ref: str, start_min: float | None) -> str | None:
        if self.proto == "2.0.1" or (self.with_session_id and start_min is not None):
            return self.session_id(tx_ref, start_min or 0)
        return None

    def _tx(self, cls: type[Event], tx_ref: str, m: float, *, start_min: float | None = None, **payload) -> Event:
        tok = payload.pop("token", None)
        token_type = payload.pop("token_type", None if self.proto == "1.6" else "ISO14443")
        body = {"transaction_ref": tx_ref, "evse_id": self.evse, "connector_id": self.connector,
                "session_id": self._sid(tx_ref, start_min), **payload}
        if tok is not None:
            body["id_token"] = {"id_token": tok, "type": token_type}
        return cls.create(payload=body, source=self.source, station_id=self.station_id,
                          occurred_at=self.t(m), received_at=self._rx())

    def started(self, tx_ref: str, m: float, meter_wh: float | None, token: str | None, **kw) -> Event:
        return self._tx(TransactionStarted, tx_ref, m, start_min=m, meter_start_wh=meter_wh, token=token, **kw)

    def updated(self, tx_ref: str, m: float, *, start_min: float | None = None, seq: int | None = None, **kw) -> Event:
        seq = seq if self.proto == "2.0.1" else None  # 1.6 has no seqNo
        return self._tx(TransactionUpdated, tx_ref, m, start_min=start_min, seq_no=seq, **kw)

    def ended(self, tx_ref: str, m: float, meter_wh: float | None, *, start_min: float | None = None, **kw) -> Event:
        kw.setdefault("stopped_reason", "Local")
        if self.proto == "1.6":
            kw.pop("seq", None)
        else:
            kw["seq_no"] = kw.pop("seq", None)
        return self._tx(TransactionEnded, tx_ref, m, start_min=start_min, meter_stop_wh=meter_wh, **kw)

    def sample(self, tx_ref: str, m: float, value: float, *, measurand: str = "Energy.Active.Import.Register",
               unit: str = "Wh", phase: str | None = None, start_min: float | None = None) -> Event:
        return MeterSampled.create(
            payload={"transaction_ref": tx_ref, "evse_id": self.evse, "connector_id": self.connector,
                     "session_id": self._sid(tx_ref, start_min), "measurand": measurand, "phase": phase,
                     "value": value, "unit": unit, "context": "Sample.Periodic"},
            source=self.source, station_id=self.station_id, occurred_at=self.t(m), received_at=self._rx())

    def boot(self, m: float) -> Event:
        return StationBooted.create(
            payload={"vendor": "ACME", "model": "X1", "registration_status": "Accepted", "heartbeat_interval": 300},
            source=self.source, station_id=self.station_id, occurred_at=self.t(m), received_at=self._rx())

    def remote_start(self, m: float, token: str, ref: str, remote_start_id: int | None = None) -> Event:
        return CommandRequested.create(
            payload={"command_id": f"cmd-{self.station_id}-{m}", "kind": "remote_start",
                     "args": {"id_token": token, "evse_id": self.evse, "remote_start_id": remote_start_id,
                              "authorization_reference": ref},
                     "expires_at": self.t(m) + minutes(1)},
            source=Source.OCPI, station_id=self.station_id, occurred_at=self.t(m), received_at=self._rx())

    def authorized(self, m: float, token: str, ref: str | None, decided_by: str = "realtime") -> Event:
        return TokenAuthorized.create(
            payload={"id_token": token, "evse_id": self.evse, "status": "Accepted", "decided_by": decided_by,
                     "authorization_reference": ref},
            source=self.source, station_id=self.station_id, occurred_at=self.t(m), received_at=self._rx())


def standard_session(c: Charger, token: str = "04A1B2C3D4E5F6", start: float = 0.0, meter0: float = 10_000.0,
                     tx: str | None = None) -> tuple[str, list[Event]]:
    """A 60-minute session: 30 min charging at 11 kW, 10 min SuspendedEV, 10 min charging, 10 min parked.

    Both protocols carry the same facts; 1.6 chargers' connector statuses reach us as charging_state.
    """
    ref = c.tx_ref(token, meter0, start, tx)
    s = start
    sid_start = start if c.with_session_id or c.proto == "2.0.1" else None
    ev: list[Event] = [c.started(ref, s, meter0, token, charging_state="Charging")]
    for i in range(1, 7):  # every 5 min while charging: +916.667 Wh per 5 min = 11 kW
        ev.append(c.sample(ref, s + 5 * i, meter0 + 5500 * i / 6, start_min=sid_start))
        ev.append(c.sample(ref, s + 5 * i, 11000.0, measurand="Power.Active.Import", unit="W", start_min=sid_start))
    ev.append(c.updated(ref, s + 30, start_min=sid_start, charging_state="SuspendedEV", seq=1))
    ev.append(c.sample(ref, s + 40, meter0 + 5500, start_min=sid_start))
    ev.append(c.updated(ref, s + 40, start_min=sid_start, charging_state="Charging", seq=2))
    ev.append(c.sample(ref, s + 50, meter0 + 7000, start_min=sid_start))
    ev.append(c.updated(ref, s + 50, start_min=sid_start, charging_state="EVConnected", seq=3))
    ev.append(c.ended(ref, s + 60, meter0 + 7000, start_min=sid_start, seq=4))
    return ref, ev
