"""The whole system as real processes: two gateway replicas, sessions, billing, OCPI, analytics.

Each service is `python -m voltstream.cli <service>` with its own ports, state directory and log
file, configured only through its documented environment variables. Used by tests/e2e and
bench/system.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from libs.events.bus import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    killed: bool = False  # killed on purpose and not restarted yet

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.starts += 1
        self.killed = False
        return self

    def log(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.name} exited ({self.proc.returncode if self.proc else None}):\n{self.log()}")

    async def wait_ready(self, timeout: float = 180.0) -> None:
        async with httpx.AsyncClient(timeout=3) as http:
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        self.check_alive()
                        try:
                            if (await http.get(self.ready_url)).status_code == 200:
                                return
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.3)
            except TimeoutError:
                raise AssertionError(f"{self.name} not ready within {timeout}s:\n{self.log()}") from None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.killed = True
        self.proc.send_signal(sig)
        self.proc.wait(60)

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None


@dataclass
class System:
    kafka: KafkaSettings
    workdir: Path
    finality_grace_s: float = 4.0
    finality_check_interval_s: float = 0.25  # the finality timer's period: part of stop -> CDR latency
    replicas: int = 2
    log_level: str = "WARNING"
    procs: dict[str, Proc] = field(default_factory=dict)
    ocpp_urls: list[str] = field(default_factory=list)
    ocpi_port: int = 0
    query_port: int = 0
    ocpi_db: Path | None = None

    def _base_env(self) -> dict[str, str]:
        return {
            **os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "VOLTSTREAM_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "VOLTSTREAM_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "VOLTSTREAM_KAFKA_STATION_PARTITIONS": str(self.kafka.station_partitions),
            "VOLTSTREAM_KAFKA_OTHER_PARTITIONS": str(self.kafka.other_partitions),
        }

    def _proc(self, name: str, service: str, ready_url: str, env: dict[str, str]) -> Proc:
        argv = [sys.executable, "-m", "voltstream.cli", service]
        p = Proc(name, argv, {**self._base_env(), **env}, ready_url, self.workdir / f"{name}.log")
        self.procs[name] = p
        return p

    def build(self) -> System:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i in range(self.replicas):
            port, health = free_port(), free_port()
            name = f"gateway-{chr(ord('a') + i)}"
            self._proc(name, "gateway", f"http://127.0.0.1:{health}/readyz", {
                "VOLTSTREAM_GATEWAY_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_PORT": str(port),
                "VOLTSTREAM_GATEWAY_HEALTH_HOST": "127.0.0.1", "VOLTSTREAM_GATEWAY_HEALTH_PORT": str(health),
                "VOLTSTREAM_GATEWAY_INSTANCE_ID": f"e2e-{name}",
                "VOLTSTREAM_GATEWAY_SPOOL_DIR": str(self.workdir / "spool" / name),
                "VOLTSTREAM_GATEWAY_DRAIN_SECONDS": "1", "VOLTSTREAM_GATEWAY_LOG_LEVEL": self.log_level})
            self.ocpp_urls.append(f"ws://127.0.0.1:{port}/ocpp")
        web = free_port()
        self._proc("sessions", "sessions", f"http://127.0.0.1:{web}/readyz", {
            "VOLTSTREAM_SESSIONS_WEB_HOST": "127.0.0.1", "VOLTSTREAM_SESSIONS_WEB_PORT": str(web),
            "VOLTSTREAM_SESSIONS_DATA_DIR": str(self.workdir / "sessions"),
            "VOLTSTREAM_SESSIONS_FINALITY_GRACE_S": str(self.finality_grace_s),
            "VOLTSTREAM_SESSIONS_FINALITY_CHECK_INTERVAL_S": str(self.finality_check_interval_s),
            "VOLTSTREAM_SESSIONS_SESSION_TIMEOUT_S": "10",
            "VOLTSTREAM_SESSIONS_LOG_LEVEL": self.log_level})
        health = free_port()
        self._proc("billing", "billing", f"http://127.0.0.1:{health}/readyz", {
            "VOLTSTREAM_BILLING_HEALTH_HOST": "127.0.0.1", "VOLTSTREAM_BILLING_HEALTH_PORT": str(health),
            "VOLTSTREAM_BILLING_LOG_LEVEL": self.log_level})
        self.ocpi_port = free_port()
        self.ocpi_db = self.workdir / "ocpi.db"
        self._proc("ocpi", "ocpi", f"http://127.0.0.1:{self.ocpi_port}/readyz", self.ocpi_env())
        health, self.query_port = free_port(), free_port()
        self._proc("analytics", "analytics", f"http://127.0.0.1:{health}/readyz", {
            "VOLTSTREAM_ANALYTICS_CLICKHOUSE_DSN": f"chdb://{self.workdir / 'chdb'}",
            "VOLTSTREAM_ANALYTICS_HEALTH_HOST": "127.0.0.1", "VOLTSTREAM_ANALYTICS_HEALTH_PORT": str(health),
            "VOLTSTREAM_ANALYTICS_QUERY_PORT": str(self.query_port),
            "VOLTSTREAM_ANALYTICS_BATCH_WAIT_MS": "300"})
        return self

    def ocpi_env(self) -> dict[str, str]:
        return {"VOLTSTREAM_OCPI_HOST": "127.0.0.1", "VOLTSTREAM_OCPI_PORT": str(self.ocpi_port),
                "VOLTSTREAM_OCPI_PUBLIC_URL": f"http://127.0.0.1:{self.ocpi_port}",
                "VOLTSTREAM_OCPI_DATABASE_URL": f"sqlite+aiosqlite:///{self.ocpi_db}",
                "VOLTSTREAM_OCPI_PRESENCE_SWEEP_S": "0.5", "VOLTSTREAM_OCPI_PUSH_BACKOFF_MAX_S": "2"}

    @property
    def versions_url(self) -> str:
        return f"http://127.0.0.1:{self.ocpi_port}/ocpi/versions"

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.query_port}/"

    async def start(self, timeout: float = 240.0) -> None:
        for p in self.procs.values():
            p.start()
        await asyncio.gather(*(p.wait_ready(timeout) for p in self.procs.values()))

    async def restart(self, name: str, sig: int = signal.SIGKILL, timeout: float = 180.0) -> None:
        p = self.procs[name]
        p.kill(sig)
        p.start()
        await p.wait_ready(timeout)

    def check_alive(self) -> None:
        for p in self.procs.values():
            if not p.killed:
                p.check_alive()

    def stop(self) -> dict[str, int | None]:
        return {name: p.stop() for name, p in reversed(self.procs.items())}

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log(2500)}" for n, p in self.procs.items())

    async def invite_partner(self, name: str) -> str:
        """`voltstream partner invite NAME` against the OCPI service's database: returns token A."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voltstream.cli", "partner", "invite", name, cwd=ROOT,
            env={**self._base_env(), **self.ocpi_env()}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        text = out.decode()
        assert proc.returncode == 0, text
        return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("token A:"))

    async def query(self, sql: str) -> list[list[str]]:
        """Run SQL through the analytics query endpoint (ClickHouse HTTP); TSV rows."""
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(self.query_url, params={"database": "voltstream"}, content=sql.encode())
        if r.status_code != 200:
            raise QueryFailed(f"{r.status_code}: {r.text[:500]}")
        return [line.split("\t") for line in r.text.splitlines() if line]


class QueryFailed(Exception):
    pass
