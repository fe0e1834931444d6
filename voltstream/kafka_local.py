"""A local single-node Kafka (KRaft, combined broker + controller) for development and tests.

The broker runs from the jars that ``deploy/kafka/pom.xml`` copies into ``deploy/kafka/lib``
(Apache Kafka 4.0.x); no Docker, no Kafka distribution tarball. State lives in one folder::

    <home>/server.properties   written on every start
    <home>/log4j2.properties   written on every start
    <home>/cluster.id          chosen once, reused
    <home>/data/               KRaft metadata log + topic data (formatted once)
    <home>/kafka.log           broker stdout/stderr
    <home>/kafka.pid           pid of the running broker

``voltstream kafka start|stop|status`` is the CLI (``kafka_app``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["KafkaSetupError", "KafkaStatus", "LocalKafka", "kafka_app"]

HOST = "127.0.0.1"
_LOG_ROTATE_BYTES = 20 * 1024 * 1024
_LOG_TAIL_LINES = 20


class KafkaSetupError(RuntimeError):
    """Local Kafka could not be set up or started; the message is meant for the user as is."""


@dataclass(frozen=True)
class KafkaStatus:
    running: bool
    pid: int | None
    bootstrap: str
    serving_metadata: bool


def _find_pom() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        pom = parent / "deploy" / "kafka" / "pom.xml"
        if pom.is_file():
            return pom
    return None


def _default_jars_dir() -> Path:
    env = os.environ.get("VOLTSTREAM_KAFKA_LIB")
    if env:
        return Path(env).expanduser()
    pom = _find_pom()
    if pom is not None:
        return pom.parent / "lib"
    return Path(__file__).resolve().parent.parent / "deploy" / "kafka" / "lib"


def _new_cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes, no padding. An id starting
    # with '-' would be read as an option by the storage tool, so draw again.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _stderr(msg: str, end: str = "\n") -> None:
    print(msg, end=end, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- process helpers


def _proc_cmdline(pid: int) -> list[str] | None:
    """argv of a live (non-zombie) process, or None when it is gone."""
    proc = Path("/proc") / str(pid)
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            # state is the field right after "(comm)"; comm may contain spaces/parens
            if stat[stat.rindex(")") + 2 :].startswith(("Z", "X")):
                return None
            raw = (proc / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            return None
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    # no procfs (macOS): ask ps
    try:
        out = subprocess.run(
            ["ps", "-o", "stat=", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split()[1:]


def _is_our_kafka(pid: int, properties: Path) -> bool:
    argv = _proc_cmdline(pid)
    if not argv:
        return False
    return (
        Path(argv[0]).name.startswith("java")
        and "kafka.Kafka" in argv
        and any(a == str(properties) for a in argv)
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


# --------------------------------------------------------------------------- metadata probes


def _probe_metadata_raw(port: int, timeout: float = 2.0) -> bool:
    """One Kafka Metadata v4 request over a plain socket: True when the broker answers with
    at least one live broker. Cheap enough to poll while the broker boots (no client, no logs).
    Kafka 4.0 dropped Metadata v0-v3 (KIP-896); v4 is the oldest it still serves."""
    client_id = b"voltstream-probe"
    body = (
        struct.pack(">hhih", 3, 4, 1, len(client_id))
        + client_id
        + struct.pack(">i?", -1, False)  # topics = null (all), allow_auto_topic_creation = false
    )
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exact(s, 4)
            (size,) = struct.unpack(">i", head)
            resp = _recv_exact(s, size)
    except OSError:
        return False
    # correlation_id int32, throttle_time_ms int32, brokers: int32 count, ...
    if len(resp) < 12:
        return False
    corr, _throttle, n_brokers = struct.unpack(">iii", resp[:12])
    return corr == 1 and n_brokers > 0


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def _run_coro_sync(coro_factory: Callable[[], object]) -> object:
    """asyncio.run in a worker thread, so it also works when the caller has a running loop."""
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro_factory())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    t = threading.Thread(target=target, name="voltstream-kafka-probe", daemon=True)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


async def _aiokafka_metadata(bootstrap: str, timeout: float) -> int:
    """Bootstrap an aiokafka client (which fetches cluster metadata); number of brokers seen."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return len(client.cluster.brokers())
    finally:
        await client.close()


def _aiokafka_serves_metadata(bootstrap: str, timeout: float = 5.0) -> bool:
    try:
        return bool(_run_coro_sync(lambda: _aiokafka_metadata(bootstrap, timeout)))
    except Exception:  # noqa: BLE001 - any failure means "not serving"
        return False


# --------------------------------------------------------------------------- the broker

_LOG4J2 = """\
# written by voltstream.kafka_local on every start
status = warn
name = voltstream-local-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# quieter defaults for a dev broker
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.network.name = org.apache.kafka.common.network
logger.network.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


class LocalKafka:
    """One KRaft broker+controller node on 127.0.0.1, state under ``home``."""

    def __init__(
        self,
        home: Path | str,
        port: int = 9092,
        controller_port: int = 9093,
        jars_dir: Path | str | None = None,
        properties: Mapping[str, object] | None = None,
        heap: str = "512m",
        *,
        quiet: bool = False,
    ) -> None:
        self.home = Path(home).expanduser().resolve()
        self.port = int(port)
        self.controller_port = int(controller_port)
        self.jars_dir = Path(jars_dir).expanduser().resolve() if jars_dir else _default_jars_dir().resolve()
        self.extra_properties = dict(properties or {})
        self.heap = heap
        self.quiet = quiet
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    # paths -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def _say(self, msg: str, end: str = "\n") -> None:
        if not self.quiet:
            _stderr(msg, end=end)

    # jars ------------------------------------------------------------------
    def _has_jars(self) -> bool:
        return any(self.jars_dir.glob("kafka_2.13-*.jar"))

    def ensure_jars(self) -> None:
        """Make sure the broker jars are there, fetching them with Maven once if not."""
        if self._has_jars():
            return
        pom = _find_pom()
        if pom is None or (pom.parent / "lib").resolve() != self.jars_dir:
            raise KafkaSetupError(
                f"no Kafka jars (kafka_2.13-*.jar) in {self.jars_dir}; "
                "fill it with `mvn -B -q -f deploy/kafka/pom.xml package` or point VOLTSTREAM_KAFKA_LIB at one"
            )
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaSetupError(
                f"Kafka jars missing in {self.jars_dir} and `mvn` is not on PATH: "
                "install Maven (and a JDK 17+), or set VOLTSTREAM_KAFKA_LIB to a folder of Kafka 4.0 jars"
            )
        self._require_java()
        self._say(f"fetching Kafka broker jars with Maven into {self.jars_dir} (one time, ~1 min) ...")
        res = subprocess.run(
            [mvn, "-B", "-q", "-f", str(pom), "package"], capture_output=True, text=True, check=False
        )
        if res.returncode != 0 or not self._has_jars():
            lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else f"exit code {res.returncode}"
            raise KafkaSetupError(f"maven could not fetch the Kafka jars ({pom}): {last}")

    @staticmethod
    def _require_java() -> str:
        java = shutil.which("java")
        if java is None:
            raise KafkaSetupError(
                "`java` is not on PATH: local Kafka needs a Java 17+ runtime (e.g. apt install openjdk-17-jre-headless)"
            )
        return java

    # state -----------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _running_pid(self) -> int | None:
        pid = self._read_pid()
        if pid is None:
            return None
        if self._proc is not None and self._proc.pid == pid and self._proc.poll() is not None:
            return None
        return pid if _is_our_kafka(pid, self.properties_file) else None

    def _cluster_id(self) -> str:
        if self.cluster_id_file.is_file():
            cid = self.cluster_id_file.read_text().strip()
            if cid:
                return cid
        meta = self.data_dir / "meta.properties"
        cid = ""
        if meta.is_file():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    cid = line.split("=", 1)[1].strip()
        cid = cid or _new_cluster_id()
        self.cluster_id_file.write_text(cid + "\n")
        return cid

    def broker_properties(self) -> dict[str, str]:
        props: dict[str, object] = {
            "process.roles": "broker,controller",
            "node.id": 1,
            # static quorum: the voter set comes from config, not from the formatted log, so the
            # controller port may change between runs (a --standalone dynamic quorum pins it)
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": 1,
            "default.replication.factor": 1,
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "auto.leader.rebalance.enable": "false",
            "log.cleaner.backoff.ms": 1000,
            "log.cleaner.threads": 1,
            "log.cleaner.dedupe.buffer.size": 8 * 1024 * 1024,
            "num.network.threads": 2,
            "num.io.threads": 4,
            "num.recovery.threads.per.data.dir": 2,
            "log.segment.bytes": 64 * 1024 * 1024,
            "log.retention.hours": 168,
            # a lone voter: no peers to wait for
            "controller.quorum.election.timeout.ms": 500,
            "controller.quorum.fetch.timeout.ms": 1000,
            # A restarted combined node replays its own old broker registration and refuses the new
            # incarnation (DUPLICATE_BROKER_REGISTRATION) until the old session expires, even after
            # a clean controlled shutdown: the default 9 s session made every restart ~9 s slower.
            "broker.heartbeat.interval.ms": 500,
            "broker.session.timeout.ms": 3000,
        }
        props.update(self.extra_properties)
        return {k: str(v) for k, v in props.items()}

    def _write_config(self) -> None:
        lines = ["# written by voltstream.kafka_local on every start; edit LocalKafka(properties=...)"]
        lines += [f"{k}={v}" for k, v in self.broker_properties().items()]
        self.properties_file.write_text("\n".join(lines) + "\n")
        self.log4j_file.write_text(_LOG4J2)

    def _java_base(self, java: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{min(self.heap, '128m', key=_heap_bytes)}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            # Kafka logs its own shutdown from a JVM shutdown hook; log4j2's hook would stop logging
            # first and the controlled-shutdown lines would be lost from kafka.log
            "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            self.classpath(),
        ]

    def classpath(self) -> str:
        """The jars, minus an slf4j->log4j2 binding that does not match the slf4j-api present.

        Kafka 4.0 ships slf4j-api 1.7; a lib folder filled by an older pom may also hold
        log4j-slf4j2-impl, which then shadows the 1.x binding and breaks every Kafka main class
        (NoClassDefFoundError org/slf4j/spi/LoggingEventBuilder)."""
        jars = sorted(self.jars_dir.glob("*.jar"))
        names = [j.name for j in jars]
        slf4j_v1 = any(n.startswith("slf4j-api-1.") for n in names)
        drop = "log4j-slf4j2-impl-" if slf4j_v1 else "log4j-slf4j-impl-"
        if any(
            n.startswith(("log4j-slf4j-impl-", "log4j-slf4j2-impl-")) and not n.startswith(drop)
            for n in names
        ):
            jars = [j for j in jars if not j.name.startswith(drop)]
        return os.pathsep.join(str(j) for j in jars)

    def _format_storage(self, java: str) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        cid = self._cluster_id()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            *self._java_base(java),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            cid,
            "-c",
            str(self.properties_file),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.home)
        if res.returncode != 0:
            detail = _first_error_line(res.stdout + res.stderr) or f"exit code {res.returncode}"
            raise KafkaSetupError(f"formatting KRaft storage in {self.data_dir} failed: {detail}")

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_file.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_suffix(".log.1"))

    def log_tail(self, n: int = _LOG_TAIL_LINES) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no kafka.log)"
        return "\n".join(lines[-n:])

    # lifecycle -------------------------------------------------------------
    def start(self, timeout: float = 90) -> bool:
        """Start the broker and wait until it serves metadata. False if it was already running."""
        if self._running_pid() is not None:
            return False
        self.ensure_jars()
        java = self._require_java()
        for p in {self.port, self.controller_port}:
            if _port_in_use(p):
                raise KafkaSetupError(
                    f"port {p} on {HOST} is already in use by another process; "
                    "pick others with --port/--controller-port (VOLTSTREAM_KAFKA_PORT/_CONTROLLER_PORT)"
                )
        if self.port == self.controller_port:
            raise KafkaSetupError("the broker port and the controller port must differ")
        self.home.mkdir(parents=True, exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self._write_config()
        t0 = time.monotonic()
        self._format_storage(java)
        self._rotate_log()

        cmd = [*self._java_base(java), "kafka.Kafka", str(self.properties_file)]
        with open(self.log_file, "ab") as log:
            log.write(
                f"\n==== voltstream: starting kafka at {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode()
            )
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        pid = self._proc.pid
        self.pid_file.write_text(f"{pid}\n")
        self._say(f"starting kafka (pid {pid}) on {self.bootstrap} ", end="")
        deadline = t0 + timeout
        next_dot = time.monotonic() + 1.0
        while True:
            if self._proc.poll() is not None:
                self._say("")
                self.pid_file.unlink(missing_ok=True)
                raise KafkaSetupError(
                    f"kafka exited with code {self._proc.returncode} during startup; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if _probe_metadata_raw(self.port, timeout=1.0):
                break
            now = time.monotonic()
            if now > deadline:
                self._say("")
                self._kill(pid, grace=5)
                raise KafkaSetupError(
                    f"kafka did not serve metadata on {self.bootstrap} within {timeout:.0f}s; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if now >= next_dot:
                self._say(".", end="")
                next_dot = now + 1.0
            time.sleep(0.1)
        remaining = max(5.0, deadline - time.monotonic())
        if not _aiokafka_serves_metadata(self.bootstrap, timeout=remaining):
            self._say("")
            raise KafkaSetupError(
                f"kafka on {self.bootstrap} answered a raw metadata probe but not aiokafka; "
                f"last lines of {self.log_file}:\n{self.log_tail()}"
            )
        self.startup_seconds = time.monotonic() - t0
        self._say(f" ready in {self.startup_seconds:.1f}s")
        return True

    def stop(self, timeout: float = 30) -> bool:
        """SIGTERM the recorded broker (and only it), SIGKILL after ``timeout``. False if not running."""
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._kill(pid, grace=timeout)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _kill(self, pid: int, grace: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, grace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10)
        self.pid_file.unlink(missing_ok=True)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.1)
                if self._proc.returncode is not None:
                    return True
            elif _proc_cmdline(pid) is None:
                return True
            else:
                time.sleep(0.1)
            if time.monotonic() > deadline:
                return False

    def status(self) -> KafkaStatus:
        pid = self._running_pid()
        serving = pid is not None and _probe_metadata_raw(self.port, timeout=2.0)
        return KafkaStatus(
            running=pid is not None, pid=pid, bootstrap=self.bootstrap, serving_metadata=serving
        )


def _first_error_line(output: str) -> str:
    """The most telling line of a Java tool's output: the exception (or last) line, no stack frames."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("at ", "...", "SLF4J:"))]
    for ln in lines:
        if "Exception" in ln or "Error" in ln:
            return ln
    return lines[-1] if lines else ""


def _heap_bytes(spec: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    s = spec.strip().lower()
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


# --------------------------------------------------------------------------- CLI

kafka_app = typer.Typer(
    name="kafka",
    help="Run a local single-node Kafka (KRaft) broker for development and tests.",
    no_args_is_help=True,
    add_completion=False,
)

HomeOpt = Annotated[
    Path,
    typer.Option("--home", envvar="VOLTSTREAM_KAFKA_HOME", help="state folder (data, logs, pid)"),
]
PortOpt = Annotated[int, typer.Option("--port", envvar="VOLTSTREAM_KAFKA_PORT", help="broker port")]
CPortOpt = Annotated[
    int,
    typer.Option(
        "--controller-port", envvar="VOLTSTREAM_KAFKA_CONTROLLER_PORT", help="KRaft controller port"
    ),
]


def _fail(exc: KafkaSetupError) -> typer.Exit:
    typer.echo(f"kafka: {exc}", err=True)
    return typer.Exit(code=1)


@kafka_app.command("start")
def start_cmd(
    home: HomeOpt = Path("var/kafka"),
    port: PortOpt = 9092,
    controller_port: CPortOpt = 9093,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the broker")] = 90,
) -> None:
    """Start the broker (fetching the jars with Maven the first time) and wait until it is ready."""
    kafka = LocalKafka(home, port=port, controller_port=controller_port)
    try:
        started = kafka.start(timeout=timeout)
    except KafkaSetupError as exc:
        raise _fail(exc) from None
    if started:
        typer.echo(f"kafka started (pid {kafka.status().pid}) on {kafka.bootstrap}, home {kafka.home}")
    else:
        typer.echo(f"kafka already running (pid {kafka.status().pid}) on {kafka.bootstrap}")


@kafka_app.command("stop")
def stop_cmd(
    home: HomeOpt = Path("var/kafka"),
    port: PortOpt = 9092,
    controller_port: CPortOpt = 9093,
    timeout: Annotated[float, typer.Option(help="seconds before SIGKILL")] = 30,
) -> None:
    """Stop the broker recorded in HOME/kafka.pid (SIGTERM, then SIGKILL after --timeout)."""
    kafka = LocalKafka(home, port=port, controller_port=controller_port)
    pid = kafka.status().pid
    try:
        stopped = kafka.stop(timeout=timeout)
    except KafkaSetupError as exc:
        raise _fail(exc) from None
    if stopped:
        typer.echo(f"kafka stopped (pid {pid})")
    else:
        typer.echo(f"kafka not running (home {kafka.home})")


@kafka_app.command("status")
def status_cmd(
    home: HomeOpt = Path("var/kafka"),
    port: PortOpt = 9092,
    controller_port: CPortOpt = 9093,
) -> None:
    """Say whether the broker runs and serves metadata; exit code 1 when it is not running."""
    kafka = LocalKafka(home, port=port, controller_port=controller_port)
    st = kafka.status()
    if not st.running:
        typer.echo(f"kafka not running (home {kafka.home})")
        raise typer.Exit(code=1)
    state = "serving metadata" if st.serving_metadata else "NOT serving metadata yet"
    typer.echo(f"kafka running (pid {st.pid}) on {st.bootstrap}, {state}")
