"""A fleet of simulated stations running realistic sessions, with reconnects and progress.

Each station: connect (retrying with backoff), BootNotification, StatusNotification Available,
then sessions forever: Authorize, Preparing, StartTransaction, Charging with meter values every
`meter_interval` seconds following a power curve (ramp up, plateau, taper as SoC rises), a
SuspendedEV pause, StopTransaction, Available; heartbeats in between. A dropped connection is
re-established with backoff and the station boots again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, field

from libs.simulator.chargers import V16, V201, MeterReading, SimulatedStation, station_class


@dataclass
class FleetConfig:
    url: str = "ws://127.0.0.1:9000/ocpp"
    stations: int = 10
    protocol: str = "mixed"  # ocpp1.6, ocpp2.0.1 or mixed
    prefix: str = "SIM"
    names: list[str] | None = None  # explicit station ids (overrides prefix/stations)
    keys: dict[str, str] = field(default_factory=dict)  # station -> AuthorizationKey (auth on)
    key_template: str | None = None  # e.g. "sim-key-{station}-0000" when every station has one
    id_tags: tuple[str, ...] = ("04A1B2C3D4E5F6", "04A1B2C3D4E5F7")
    meter_interval: float = 5.0
    heartbeat_interval: float = 60.0
    session_minutes: float = 2.0
    max_power_w: float = 22000.0
    connect_concurrency: int = 200
    validate: bool = True
    sessions: bool = True


def station_ids(cfg: FleetConfig) -> list[str]:
    if cfg.names:
        return list(cfg.names)
    return [f"{cfg.prefix}-{i:05d}" for i in range(cfg.stations)]


def protocol_of(cfg: FleetConfig, i: int) -> str:
    if cfg.protocol == "mixed":
        return V16 if i % 2 == 0 else V201
    return cfg.protocol


def power_curve(t: float, duration: float, max_w: float) -> float:
    """Ramp up over the first 5 %, plateau, taper over the last 40 % (CC/CV-like)."""
    x = t / duration
    if x < 0.05:
        return max_w * x / 0.05
    if x < 0.6:
        return max_w
    return max_w * max(0.05, math.cos((x - 0.6) / 0.4 * math.pi / 2))


@dataclass
class FleetStats:
    connected: int = 0
    boots: int = 0
    sessions: int = 0
    reconnects: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)


class Fleet:
    def __init__(self, cfg: FleetConfig):
        self.cfg = cfg
        self.stats = FleetStats()
        self.stations: list[SimulatedStation] = []
        for i, sid in enumerate(station_ids(cfg)):
            key = cfg.keys.get(sid) or (cfg.key_template.format(station=sid) if cfg.key_template else None)
            cls = station_class(protocol_of(cfg, i))
            self.stations.append(cls(sid, cfg.url, key, validate=cfg.validate))
        self._gate = asyncio.Semaphore(cfg.connect_concurrency)
        self._tasks: list[asyncio.Task] = []
        self.all_connected = asyncio.Event()

    def latencies(self) -> list[float]:
        return [x for s in self.stations for x in s.latencies]

    def messages(self) -> int:
        return sum(len(s.latencies) for s in self.stations)

    async def run(self, duration: float | None = None) -> None:
        self._tasks = [asyncio.create_task(self._station(s)) for s in self.stations]
        try:
            if duration is None:
                await asyncio.gather(*self._tasks)
            else:
                await asyncio.sleep(duration)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.stations), return_exceptions=True)

    async def _connect(self, s: SimulatedStation) -> None:
        delay = 0.5
        while True:
            try:
                async with self._gate:
                    await s.connect()
                    await s.boot()
                self.stats.boots += 1
                return
            except Exception:  # noqa: BLE001 - gateway not there (yet): back off and retry
                self.stats.errors += 1
                await s.close()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 10)

    async def _station(self, s: SimulatedStation) -> None:
        first = True
        while True:
            await self._connect(s)
            if not first:
                self.stats.reconnects += 1
            first = False
            self.stats.connected += 1
            if self.stats.connected == len(self.stations):
                self.all_connected.set()
            try:
                await s.status(1, "Available")
                if self.cfg.sessions:
                    await self._sessions(s)
                else:
                    while True:
                        await asyncio.sleep(self.cfg.heartbeat_interval * (0.5 + random.random()))
                        await s.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - connection dropped: reconnect
                self.stats.errors += 1
            finally:
                self.stats.connected -= 1
                self.all_connected.clear()
            await s.close()

    async def _sessions(self, s: SimulatedStation) -> None:
        cfg = self.cfg
        energy = random.randint(0, 50_000_000)
        await asyncio.sleep(random.random() * cfg.meter_interval)
        while True:
            tag = random.choice(cfg.id_tags)
            if await s.authorize(tag) != "Accepted":
                await asyncio.sleep(cfg.meter_interval)
                continue
            await s.status(1, "Preparing")
            tx = await s.start(1, tag, energy)
            await s.status(1, "Charging")
            duration = cfg.session_minutes * 60
            t0 = time.monotonic()
            soc = random.uniform(10, 40)
            last_hb = t0
            suspended = resumed = False
            while (elapsed := time.monotonic() - t0) < duration:
                await asyncio.sleep(cfg.meter_interval)
                power = power_curve(elapsed, duration, cfg.max_power_w)
                if not suspended and elapsed / duration > 0.7:
                    suspended = True  # the EV pauses charging for one meter interval
                    await s.status(1, "SuspendedEV")
                    power = 0.0
                elif suspended and not resumed:
                    resumed = True
                    await s.status(1, "Charging")
                energy += int(power * cfg.meter_interval / 3600)
                soc = min(100.0, soc + power * cfg.meter_interval / 3600 / 600)
                await s.meter(1, tx, MeterReading(energy, power, power / 230 / 3, soc=soc))
                if time.monotonic() - last_hb > cfg.heartbeat_interval:
                    await s.heartbeat()
                    last_hb = time.monotonic()
            await s.status(1, "Finishing")
            await s.stop(1, tx, tag, energy)
            self.stats.sessions += 1
            await s.status(1, "Available")
            await asyncio.sleep(random.uniform(1, 3) * cfg.meter_interval)


async def progress(fleet: Fleet, every: float = 2.0, out=print) -> None:
    """Print one progress line every `every` seconds until cancelled."""
    last = (time.monotonic(), fleet.messages())
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(every)
            now, msgs = time.monotonic(), fleet.messages()
            rate = (msgs - last[1]) / (now - last[0])
            last = (now, msgs)
            st = fleet.stats
            out(f"[simulate] connected {st.connected}/{len(fleet.stations)}  messages {msgs}  {rate:.0f}/s  "
                f"sessions {st.sessions}  reconnects {st.reconnects}  errors {st.errors}")
