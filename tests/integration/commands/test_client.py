"""The commands client against the real broker, with a stand-in gateway answering commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from libs.catalog.presence import PresenceView
from libs.commands.client import CommandsClient
from libs.events.control import CommandAnswer, CommandOutcome, CommandRequested, CommandResult
from libs.events.envelope import Source
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer
from libs.events.station import GatewayLease, StationPresence

pytestmark = pytest.mark.kafka


async def station_online(producer: EventProducer, station_id: str) -> None:
    now = datetime.now(UTC)
    await producer.send(GatewayLease.create(
        payload={"instance_id": "gw-test", "renewed_at": now, "expires_at": now + timedelta(minutes=5)},
        source=Source.GATEWAY, occurred_at=now))
    await producer.send(StationPresence.create(
        payload={"online": True, "gateway_instance": "gw-test", "connection_id": "c1", "since": now},
        source=Source.GATEWAY, station_id=station_id, occurred_at=now))


async def test_send_answered_offline_and_timeout(kafka_settings):
    seen: list[CommandRequested] = []

    async with EventProducer(kafka_settings) as producer:
        def answer(_topic, _key, event):
            # stand-in for the gateway: answers CS1 only, never CS-SILENT
            if isinstance(event, CommandRequested):
                seen.append(event)
                if event.station_id == "CS1":
                    asyncio.get_running_loop().create_task(producer.send(CommandResult.create(
                        payload=CommandAnswer(command_id=event.payload.command_id, outcome="answered",
                                              status="Accepted", response={"status": "Accepted"},
                                              reply_context=event.payload.reply_context),
                        source=Source.GATEWAY, occurred_at=datetime.now(UTC))))

        gateway = TopicFollower(kafka_settings, ["commands"], answer, from_end=True)
        await gateway.start()
        await station_online(producer, "CS1")
        await station_online(producer, "CS-SILENT")
        presence = PresenceView()
        await presence.follow(kafka_settings)
        await presence.wait_caught_up(30)
        client = CommandsClient(kafka_settings, producer, presence)
        await client.start()
        try:
            async with asyncio.timeout(20):
                while not (presence.is_online("CS1") and presence.is_online("CS-SILENT")):
                    await asyncio.sleep(0.05)
            result = await client.send("CS1", "reset", {"hard": True}, timeout_s=20,
                                       reply_context={"requester": "test"})
            assert result.outcome == CommandOutcome.ANSWERED and result.status == "Accepted"
            assert result.reply_context == {"requester": "test"}
            assert seen[-1].payload.args == {"hard": True} and seen[-1].key() == "CS1"
            assert seen[-1].payload.expires_at > datetime.now(UTC)

            sent_before = len(seen)
            offline = await client.send("CS-NEVER-SEEN", "reset", timeout_s=20)
            assert offline.outcome == CommandOutcome.STATION_OFFLINE
            timeout = await client.send("CS-SILENT", "clear_cache", timeout_s=1.5)
            assert timeout.outcome == CommandOutcome.TIMEOUT
            await asyncio.sleep(0.5)
            assert [e.station_id for e in seen[sent_before:]] == ["CS-SILENT"]  # offline sent nothing
        finally:
            await client.stop()
            await presence.stop()
            await gateway.stop()
