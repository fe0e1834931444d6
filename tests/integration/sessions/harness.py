"""Run the session worker as a real subprocess against the broker; publish streams; read sessions."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from libs.catalog.index import CatalogIndex
from libs.catalog.loader import load_catalog
from libs.catalog.publish import CatalogPublisher
from libs.events.bus import KafkaSettings
from libs.events.codec import decode
from libs.events.envelope import Event
from libs.events.producer import EventProducer
from libs.events.sessions import ChargingSession

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "catalog.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    """`python -m services.sessions` with the test's Kafka settings."""

    def __init__(self, settings: KafkaSettings, tmp: Path, name: str = "w", **env: str):
        self.settings, self.tmp, self.name = settings, tmp, name
        self.port = free_port()
        self.log_path = tmp / f"sessions-{name}.log"
        self.env = {
            **os.environ, "PYTHONPATH": str(ROOT),
            "VOLTSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap,
            "VOLTSTREAM_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
            "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(settings.station_partitions),
            "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(settings.other_partitions),
            "VOLTSTREAM_SESSIONS_WEB_PORT": str(self.port),
            "VOLTSTREAM_SESSIONS_WEB_HOST": "127.0.0.1",
            "VOLTSTREAM_SESSIONS_DATA_DIR": str(tmp / f"data-{name}"),
            "VOLTSTREAM_SESSIONS_LOG_LEVEL": "WARNING",
            **{f"VOLTSTREAM_SESSIONS_{k.upper()}": v for k, v in env.items()},
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "services.sessions"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"worker died:\n{self.log()}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    async def wait_ready(self, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while (await asyncio.to_thread(self.get, "/readyz"))[0] != 200:
                self.alive()
                await asyncio.sleep(0.3)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None


async def apply_example_catalog(settings: KafkaSettings) -> None:
    index = CatalogIndex()
    await index.follow(settings)
    await index.wait_caught_up(30)
    async with EventProducer(settings) as producer:
        await CatalogPublisher(producer, index).apply(load_catalog(EXAMPLE))
    await index.stop()


async def publish(settings: KafkaSettings, events: Iterable[Event]) -> None:
    async with EventProducer(settings) as producer:
        await producer.send_many(list(events))


class SessionsReader:
    """Reads the sessions topic from the start; keeps every version and the latest per session."""

    def __init__(self, settings: KafkaSettings):
        self.consumer = AIOKafkaConsumer(settings.topics().name("sessions"), bootstrap_servers=settings.bootstrap,
                                         auto_offset_reset="earliest", group_id=None)
        self.latest: dict[str, ChargingSession] = {}
        self.versions: dict[str, list[int]] = {}

    async def __aenter__(self) -> SessionsReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> None:
        for records in (await self.consumer.getmany(timeout_ms=300)).values():
            for rec in records:
                session = decode(rec.value).payload
                self.versions.setdefault(session.session_id, []).append(session.version)
                old = self.latest.get(session.session_id)
                if old is None or session.version >= old.version:
                    self.latest[session.session_id] = session

    async def wait_for(self, predicate: Callable[[dict[str, ChargingSession]], bool], worker: Worker | None = None,
                       timeout: float = 90, what: str = "") -> dict[str, ChargingSession]:
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self.latest):
                    if worker is not None:
                        worker.alive()
                    await self.poll()
        except TimeoutError:
            detail = {k: (v.station_id, v.version, v.status, v.final, str(v.kwh)) for k, v in self.latest.items()}
            raise AssertionError(f"timed out waiting for {what}: {detail}\n{worker.log() if worker else ''}") from None
        return self.latest


def replay(events: Iterable[Event], **settings_overrides) -> dict[str, ChargingSession]:
    """What the service computes for a stream, by the pure core alone (no catalog, no Kafka)."""
    from services.sessions.enrichment import Enricher
    from services.sessions.facts import to_fact
    from services.sessions.processor import Batch
    from services.sessions.projection import project
    from services.sessions.settings import SessionsSettings

    settings = SessionsSettings(**settings_overrides)
    sessions: dict = {}
    stations: dict = {}
    touched: set[str] = set()
    for event in events:
        batch = Batch(settings, sessions.get, stations.get)
        fact = to_fact(event)
        if fact is None:
            continue
        batch.add(fact, 0)
        sessions.update(batch.sessions)
        stations.update(batch.stations)
        touched |= batch.touched
    enricher = Enricher(CatalogIndex(), settings.operator_country_code, settings.operator_party_id,
                        settings.default_currency)
    out = {}
    for key in touched:
        session = project(sessions[key], enricher, settings.reboot_policy)
        if session is not None:
            out[session.session_id] = session
    return out
