"""Key rotation through the operator CLI and the commands library: the gateway generates the key,
the charger accepts it, only its hash is published (owner `rotation`); the old key is locked out
on reconnect, a later `catalog apply` does not undo it, and the key is nowhere in Kafka or logs."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner
from websockets.exceptions import InvalidStatus

from libs.catalog.credentials import verify_key
from libs.catalog.index import CatalogIndex
from libs.catalog.loader import load_catalog
from libs.catalog.publish import CatalogPublisher
from libs.commands.client import open_client
from libs.events.control import CommandKind as K
from libs.events.control import CommandOutcome
from libs.events.producer import EventProducer
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import EXAMPLE, KEYS, V16_STATION, V201_STATION, gateway_settings, url
from voltstream.station import station_app

pytestmark = pytest.mark.kafka


async def until(predicate, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def every_value(settings) -> list[bytes]:
    """Every record value (and key) on every topic of the test's prefix."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(n, p) for n in names for p in consumer.partitions_for_topic(n) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [(r.key or b"") + b"|" + (r.value or b"") for r in records]
        return out
    finally:
        await consumer.stop()


async def apply_without(settings, station_id: str):
    """`catalog apply` of the example file with one station's credential removed from it."""
    catalog = load_catalog(EXAMPLE)
    file = catalog.file.model_copy(update={"stations": [s for s in catalog.file.stations if s.station_id != station_id]})
    index = CatalogIndex()
    await index.follow(settings)
    try:
        await index.wait_caught_up(30)
        async with EventProducer(settings) as producer:
            return await CatalogPublisher(producer, index).apply(dataclasses.replace(catalog, file=file))
    finally:
        await index.stop()


async def test_rotate_key_locks_old_key_out_and_never_leaks(catalog, tmp_path, monkeypatch, capsys):
    app = GatewayApp(gateway_settings(tmp_path, local_list_sync=False), catalog, health=False)
    await app.start()
    base = url(app, "x").rsplit("/", 1)[0]
    v16 = V16Station(V16_STATION, base, key=KEYS[V16_STATION])
    v201 = V201Station(V201_STATION, base, key=KEYS[V201_STATION])
    try:
        for s in (v16, v201):
            await s.connect()
            await s.boot()
        async with open_client(catalog) as client:
            await until(lambda: client.presence.is_online(V16_STATION) and client.presence.is_online(V201_STATION))

            # 1.6 through the operator CLI, 2.0.1 through the library
            for name, value in {"BOOTSTRAP": catalog.bootstrap, "TOPIC_PREFIX": catalog.topic_prefix,
                                "STATION_PARTITIONS": "2", "OTHER_PARTITIONS": "1"}.items():
                monkeypatch.setenv(f"VOLTSTREAM_KAFKA_{name}", value)
            cli = await asyncio.to_thread(CliRunner().invoke, station_app, ["--timeout", "20", V16_STATION, "rotate-key"])
            assert cli.exit_code == 0, cli.output
            assert "answered Accepted" in cli.output.splitlines()
            answer = await client.send(V201_STATION, K.ROTATE_KEY, {}, timeout_s=20)
            assert answer.outcome == CommandOutcome.ANSWERED and answer.status == "Accepted"

            # a charger refusing the key: nothing published, its key unchanged
            v201_key = v201.key
            v201.device.answers["SetVariables"] = "Rejected"
            refused = await client.send(V201_STATION, K.ROTATE_KEY, {}, timeout_s=20)
            assert refused.status == "Rejected" and v201.key == v201_key
            refused_key = v201.device.calls[-1][1]["setVariableData"][0]["attributeValue"]
            assert refused_key != v201_key
            v201.device.answers.clear()

        new = {V16_STATION: v16.key, V201_STATION: v201.key}
        for station_id, key in new.items():
            assert key != KEYS[station_id] and 16 <= len(key) <= 40
            await until(lambda sid=station_id: app.index.credential(sid).owner == "rotation")
            credential = app.index.credential(station_id)
            assert verify_key(new[station_id], credential.authorization_key_hash)
            assert not verify_key(KEYS[station_id], credential.authorization_key_hash)
            assert verify_key(KEYS[station_id], credential.replaces_hash)

        async def locked_out_then_in(station) -> None:
            old = type(station)(station.station_id, base, key=KEYS[station.station_id])
            with pytest.raises(InvalidStatus) as refused:
                await old.connect()
            assert refused.value.response.status_code == 401
            await station.close()
            await station.connect()  # the new key
            assert (await station.heartbeat()).current_time

        for station in (v16, v201):
            await locked_out_then_in(station)

        # a later catalog apply (here even removing the station's catalog credential) leaves it
        report = await apply_without(catalog, V16_STATION)
        assert f"station-credentials {V16_STATION}/catalog" in report.removed
        assert not any("rotation" in line for line in report.removed + report.published)
        await until(lambda: app.index.records["station-credentials"].get(f"{V16_STATION}/catalog") is None)
        assert app.index.credential(V16_STATION).owner == "rotation"
        await locked_out_then_in(v16)

        # the key is nowhere in Kafka (ocpp-frames carry the CALL, redacted) nor in the logs
        await app.tap.flush(5)
        values = await every_value(catalog)
        frames = [v for v in values if b"ocpp.frame" in v and b'"direction":"out"' in v and b'"message_type":2' in v
                  and (b"AuthorizationKey" in v or b"BasicAuthPassword" in v)]
        assert len(frames) == 3 and all(b"***" in v for v in frames)  # the three CALLs setting a key
        out = capsys.readouterr()
        for key in [*new.values(), refused_key]:
            assert not any(key.encode() in v for v in values)
            assert key not in out.out and key not in out.err and key not in cli.output
    finally:
        for s in (v16, v201):
            await s.close()
        app.settings.drain_seconds = 0
        await app.stop()
