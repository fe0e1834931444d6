"""`voltstream up` / `down`: the whole system on one machine, on embedded defaults.

Starts the local Kafka, applies the topics and the example catalog, then runs every service
that is part of this build as a supervised child process (logs in var/logs), printing a line
per service when it is ready, then a small simulated fleet (the catalog's demo stations, keys
from its header) and what to try (docs/demo.md). Ctrl-C or `voltstream down` stops everything
cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
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
CHILDREN = VAR / "up.children"  # pids of the children, for `down` after `up --detach`
OCPI_DATABASE_URL = "sqlite+aiosqlite:///var/ocpi.db"
# Demo default: a session is final (and billed) this long after its last fact. Production: 900 s.
DEMO_FINALITY_GRACE_S = "30"


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

    grace = os.environ.get("VOLTSTREAM_SESSIONS_FINALITY_GRACE_S", DEMO_FINALITY_GRACE_S)
    return [
        ServiceSpec("gateway", cli("gateway"), "http://127.0.0.1:9101/readyz"),
        ServiceSpec("sessions", cli("sessions"), "http://127.0.0.1:6066/readyz",
                    {"VOLTSTREAM_SESSIONS_FINALITY_GRACE_S": grace}),
        ServiceSpec("billing", cli("billing"), "http://127.0.0.1:9102/readyz"),
        ServiceSpec("analytics", cli("analytics"), "http://127.0.0.1:9103/readyz"),
        ServiceSpec("ocpi", cli("ocpi"), "http://127.0.0.1:8080/readyz",
                    {"VOLTSTREAM_OCPI_DATABASE_URL": OCPI_DATABASE_URL}),
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


def _start_fleet(catalog: Path, logs: Path) -> tuple[ServiceSpec, subprocess.Popen] | None:
    """A few simulated chargers (the catalog's demo stations, keys from its header comment)."""
    from voltstream.demo import demo_keys

    if not demo_keys(catalog):
        _say(f"no demo station keys in {catalog}'s header: no simulated fleet")
        return None
    spec = ServiceSpec("fleet", [sys.executable, "-m", "voltstream.demo", "fleet", "--catalog", str(catalog)])
    log = open(logs / "fleet.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(spec.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return spec, proc


def _invite_partner(name: str) -> str | None:
    """`voltstream partner invite NAME` on the OCPI database: token A for the newcomer to try."""
    env = {**os.environ, "VOLTSTREAM_OCPI_DATABASE_URL": OCPI_DATABASE_URL}
    out = subprocess.run([sys.executable, "-m", "voltstream.cli", "partner", "invite", name], env=env,
                         capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("token A:"):
            return line.split(":", 1)[1].strip()
    _say(f"partner invite failed: {out.stderr.strip()[-300:]}")
    return None


def up(catalog: Path = Path("examples/catalog.yaml"), detach: bool = False, fleet: bool = True) -> None:
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
    all_ready = True
    for spec, proc in procs:
        ok = _wait_ready(spec, proc)
        all_ready &= ok
        _say(f"{spec.name:10} {'ready' if ok else 'FAILED (see var/logs/' + spec.name + '.log)'}")
    fleet = _start_fleet(catalog, logs) if all_ready and fleet else None
    if fleet is not None:
        procs.append(fleet)
    token_a = _invite_partner("newcomer") if all_ready else None
    _say("what to try:")
    _say(f"  kafka bootstrap     {settings.bootstrap}  (prefix {settings.topic_prefix!r})")
    _say("  reference data      voltstream catalog apply examples/catalog.yaml")
    _say("  OCPP (chargers)     ws://127.0.0.1:9000/ocpp/<station id>  (OCPP 1.6J or 2.0.1, Basic auth)")
    if fleet is not None:
        _say(f"  simulated fleet     {fleet[0].name}: the catalog's demo stations charging (var/logs/fleet.log)")
    if token_a:
        _say("  OCPI versions       curl -H 'Authorization: Token " + token_a
             + "' http://127.0.0.1:8080/ocpi/versions")
        _say("                      (token A of partner 'newcomer': register an eMSP with it, docs/ocpi.md)")
    _say("  analyst query       voltstream analytics query \"SELECT location_id, count() AS sessions, "
         "sum(kwh) AS kwh FROM sessions FINAL GROUP BY location_id\"")
    _say("                      or curl 'http://127.0.0.1:8124/?database=voltstream&query=SELECT+count()"
         "+FROM+meter_values+FINAL'")
    _say("  the whole flow      voltstream demo report   (sessions, CDRs, energy per site; docs/demo.md)")
    _say("  stop everything     Ctrl-C, or `make down` from another terminal")
    PIDFILE.write_text(str(os.getpid()))
    CHILDREN.write_text("\n".join(str(p.pid) for _, p in procs))
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
    CHILDREN.unlink(missing_ok=True)


def _stop_children() -> None:
    """After `up --detach` the supervisor is gone: stop the children it recorded (SIGTERM, then
    SIGKILL after 30 s). Only pids `up` itself started are listed in var/up.children."""
    if not CHILDREN.exists():
        return
    pids = [int(x) for x in CHILDREN.read_text().split() if x.strip().isdigit()]
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(60):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _say(f"stopped child {pid}")
    CHILDREN.unlink(missing_ok=True)


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
    _stop_children()
    if LocalKafka(home=VAR / "kafka").stop():
        _say("kafka stopped")
    else:
        _say("kafka not running")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(up())
