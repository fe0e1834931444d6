"""`voltstream up` / `down`: the whole system on one machine, on embedded defaults.

Starts the local Kafka, applies the topics and the example catalog, then runs every service
that is part of this build as a supervised child process (logs in var/logs), printing a line
per service when it is ready. Ctrl-C or `voltstream down` stops everything cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer

from libs.events.bus import KafkaSettings

VAR = Path("var")
PIDFILE = VAR / "up.pid"


@dataclass
class ServiceSpec:
    name: str
    argv: list[str]
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def services() -> list[ServiceSpec]:
    """The services `up` runs, each a `voltstream <name>` child process."""
    def cli(name: str) -> list[str]:
        return [sys.executable, "-m", "voltstream.cli", name]

    return [
        ServiceSpec("gateway", cli("gateway"), "http://127.0.0.1:9101/readyz"),
        ServiceSpec("sessions", cli("sessions"), "http://127.0.0.1:6066/readyz"),
        ServiceSpec("billing", cli("billing"), "http://127.0.0.1:9102/readyz"),
        ServiceSpec("analytics", cli("analytics"), "http://127.0.0.1:9103/readyz"),
        ServiceSpec("ocpi", cli("ocpi"), "http://127.0.0.1:8080/readyz",
                    {"VOLTSTREAM_OCPI_DATABASE_URL": "sqlite+aiosqlite:///var/ocpi.db"}),
    ]


def _say(msg: str) -> None:
    typer.echo(f"[up] {msg}")


def _wait_ready(spec: ServiceSpec, proc: subprocess.Popen, timeout: float = 120) -> bool:
    if spec.ready_url is None:
        return proc.poll() is None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(spec.ready_url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def up(catalog: Path = Path("examples/catalog.yaml"), detach: bool = False) -> None:
    from voltstream.cli import _apply_catalog
    from voltstream.kafka_local import KafkaSetupError, LocalKafka

    VAR.mkdir(exist_ok=True)
    logs = VAR / "logs"
    logs.mkdir(exist_ok=True)
    settings = KafkaSettings()
    kafka = LocalKafka(home=VAR / "kafka")
    try:
        started = kafka.start()
    except KafkaSetupError as exc:
        typer.echo(f"kafka: {exc}", err=True)
        raise typer.Exit(1) from exc
    _say(f"kafka {'started' if started else 'already running'} on {kafka.bootstrap}")

    from libs.catalog.loader import load_catalog
    from libs.events.admin import apply_topics

    changes = asyncio.run(apply_topics(settings))
    _say(f"topics ready ({sum(c.action == 'created' for c in changes)} created)")
    report = asyncio.run(_apply_catalog(load_catalog(catalog), 60))
    _say(f"catalog {catalog}: {report.summary()}")

    procs: list[tuple[ServiceSpec, subprocess.Popen]] = []
    for spec in services():
        log = open(logs / f"{spec.name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(spec.argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **spec.env},
                                start_new_session=True)
        procs.append((spec, proc))
    for spec, proc in procs:
        ok = _wait_ready(spec, proc)
        _say(f"{spec.name:10} {'ready' if ok else 'FAILED (see var/logs/' + spec.name + '.log)'}")
    _say("what to try:")
    _say(f"  kafka bootstrap     {settings.bootstrap}  (prefix {settings.topic_prefix!r})")
    _say("  reference data      voltstream catalog apply examples/catalog.yaml")
    _say("  stop everything     Ctrl-C, or `make down` from another terminal")
    PIDFILE.write_text(str(os.getpid()))
    if detach:
        return
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        _shutdown(procs, kafka)


def _shutdown(procs: list[tuple[ServiceSpec, subprocess.Popen]], kafka) -> None:
    for spec, proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        _say(f"{spec.name} stopped")
    kafka.stop()
    _say("kafka stopped")
    PIDFILE.unlink(missing_ok=True)


def down() -> None:
    from voltstream.kafka_local import LocalKafka

    if PIDFILE.exists():
        pid = int(PIDFILE.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            _say(f"asked voltstream up (pid {pid}) to stop")
            for _ in range(120):
                os.kill(pid, 0)
                time.sleep(0.5)
        except ProcessLookupError:
            pass
        PIDFILE.unlink(missing_ok=True)
    if LocalKafka(home=VAR / "kafka").stop():
        _say("kafka stopped")
    else:
        _say("kafka not running")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(up())
