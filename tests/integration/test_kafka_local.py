"""voltstream.kafka_local against a real broker: its own home and free ports, so it never
collides with a developer's broker or the suite's shared one."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voltstream.kafka_local import KafkaSetupError, LocalKafka, kafka_app

pytestmark = pytest.mark.kafka


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory):
    port, cport = _free_ports(2)
    k = LocalKafka(tmp_path_factory.mktemp("kafka-home"), port=port, controller_port=cport)
    t0 = time.monotonic()
    assert k.start(timeout=90) is True
    print(f"\nlocal kafka started in {time.monotonic() - t0:.1f}s on {k.bootstrap}")
    yield k
    k.stop(timeout=15)


def _cli_args(k: LocalKafka, command: str) -> list[str]:
    return [
        command,
        "--home",
        str(k.home),
        "--port",
        str(k.port),
        "--controller-port",
        str(k.controller_port),
    ]


def test_start_serves_metadata(kafka: LocalKafka) -> None:
    st = kafka.status()
    assert st.running and st.serving_metadata
    assert st.bootstrap == f"127.0.0.1:{kafka.port}" == kafka.bootstrap
    assert st.pid == int(kafka.pid_file.read_text())
    assert (kafka.home / "data" / "meta.properties").is_file()
    props = kafka.properties_file.read_text()
    assert "process.roles=broker,controller" in props
    assert "auto.create.topics.enable=true" in props
    assert kafka.cluster_id_file.read_text().strip()


def test_second_start_says_already_running(kafka: LocalKafka) -> None:
    again = LocalKafka(kafka.home, port=kafka.port, controller_port=kafka.controller_port)
    assert again.start() is False
    assert again.status().pid == kafka.status().pid


def test_produce_and_consume(kafka: LocalKafka) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"kafka-local-{uuid.uuid4().hex[:8]}"

    async def roundtrip() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"CP-1")  # topic auto-created
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap,
            group_id="kafka-local-test",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), 20)
            await consumer.commit()
        finally:
            await consumer.stop()
        return msg.key, msg.value

    assert asyncio.run(asyncio.wait_for(roundtrip(), 40)) == (b"CP-1", b"hello")


def test_cli_start_and_status(kafka: LocalKafka) -> None:
    runner = CliRunner()
    res = runner.invoke(kafka_app, _cli_args(kafka, "start"))
    assert res.exit_code == 0, res.output
    assert f"kafka already running (pid {kafka.status().pid}) on {kafka.bootstrap}" in res.output
    res = runner.invoke(kafka_app, _cli_args(kafka, "status"))
    assert res.exit_code == 0, res.output
    assert "serving metadata" in res.output and "NOT" not in res.output


def test_cli_reads_env(kafka: LocalKafka) -> None:
    env = {
        "VOLTSTREAM_KAFKA_HOME": str(kafka.home),
        "VOLTSTREAM_KAFKA_PORT": str(kafka.port),
        "VOLTSTREAM_KAFKA_CONTROLLER_PORT": str(kafka.controller_port),
    }
    res = CliRunner().invoke(kafka_app, ["status"], env=env)
    assert res.exit_code == 0, res.output
    assert kafka.bootstrap in res.output


def test_missing_java_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    port, cport = _free_ports(2)
    k = LocalKafka(tmp_path / "home", port=port, controller_port=cport)
    with pytest.raises(KafkaSetupError) as err:
        k.start(timeout=5)
    msg = str(err.value)
    assert "java" in msg and "\n" not in msg

    res = CliRunner().invoke(
        kafka_app,
        ["start", "--home", str(tmp_path / "home"), "--port", str(port), "--controller-port", str(cport)],
    )
    assert res.exit_code == 1
    assert "java" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_missing_jars_and_busy_port_are_clear_errors(tmp_path: Path) -> None:
    port, cport = _free_ports(2)
    no_jars = LocalKafka(tmp_path / "a", port=port, controller_port=cport, jars_dir=tmp_path / "nolib")
    with pytest.raises(KafkaSetupError, match="no Kafka jars"):
        no_jars.start(timeout=5)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        k = LocalKafka(tmp_path / "b", port=taken, controller_port=cport)
        with pytest.raises(KafkaSetupError, match="already in use"):
            k.start(timeout=5)
    assert not (tmp_path / "b" / "kafka.pid").exists()


def test_stop_ends_only_its_own_pid(kafka: LocalKafka) -> None:
    # a bystander whose command line looks like a broker: `pkill -f kafka.Kafka` would end it
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "kafka.Kafka"], start_new_session=True
    )
    try:
        pid = kafka.status().pid
        assert pid is not None
        assert kafka.stop(timeout=20) is True
        assert not _alive(pid)
        st = kafka.status()
        assert not st.running and st.pid is None and not st.serving_metadata
        assert not kafka.pid_file.exists()
        assert bystander.poll() is None and _alive(bystander.pid)
        assert kafka.stop() is False  # not running any more

        res = CliRunner().invoke(kafka_app, _cli_args(kafka, "stop"))
        assert res.exit_code == 0 and "not running" in res.output
        res = CliRunner().invoke(kafka_app, _cli_args(kafka, "status"))
        assert res.exit_code == 1 and "not running" in res.output
    finally:
        os.kill(bystander.pid, 9)
        bystander.wait()
