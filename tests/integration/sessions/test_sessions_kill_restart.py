"""A worker SIGKILLed mid-stream and restarted ends with exactly the sessions of an uninterrupted run.

Guarantee: at-least-once in, idempotent out. Offsets are committed only after a batch's table
writes and session records were acknowledged; a restart re-reads what was not committed, and the
state machine absorbs facts idempotently and order-independently, with `version` counting distinct
facts, so the replay reaches the same versions with the same content.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from libs.events.admin import apply_topics
from libs.events.bus import KafkaSettings
from tests.integration.sessions.harness import SessionsReader, Worker, publish, replay
from tests.integration.sessions.streams import Charger, standard_session

pytestmark = pytest.mark.kafka
SESSION_TIMEOUT_S = 6


def fleet() -> list:
    events = []
    for i in range(24):
        proto = "1.6" if i % 2 else "2.0.1"
        c = Charger(f"KR-{i:02d}", proto, with_session_id=(i % 4 == 1))
        for n, start in enumerate((0.0, 70.0)):
            _, ev = standard_session(c, token=f"TAG-{i}-{n}", start=start, meter0=10_000 + 7000 * n)
            events += ev
        if i % 5 == 0:
            ref = c.tx_ref("TAG-X", 0, 150)
            events += [c.started(ref, 150, 0, "TAG-X"), c.sample(ref, 160, 500, start_min=150), c.boot(170)]
    # interleave stations like a real fleet, deterministically
    return sorted(events, key=lambda e: (e.occurred_at, e.station_id, e.type, str(e.event_id)))


async def test_killed_worker_ends_with_the_same_sessions_as_an_uninterrupted_run(kafka_settings, tmp_path):
    reference = KafkaSettings(bootstrap=kafka_settings.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                              station_partitions=2, other_partitions=1)
    await apply_topics(reference)
    events = fleet()
    expected = {sid: s.version for sid, s in replay(events).items()}
    half = len(events) // 2
    ref_worker = Worker(reference, tmp_path, "ref", finality_grace_s="3600").start()
    killed = Worker(kafka_settings, tmp_path, "killed", finality_grace_s="3600", session_timeout_s=str(SESSION_TIMEOUT_S),
                    log_level="INFO").start()
    try:
        await ref_worker.wait_ready()
        await killed.wait_ready()
        await publish(reference, events)
        await publish(kafka_settings, events[:half])
        async with SessionsReader(kafka_settings) as reader:
            await reader.wait_for(lambda lt: len(lt) >= 5, killed, what="first sessions")
            killed.kill()  # SIGKILL: no drain, no commit, no flush
            before_kill = dict(reader.latest)
        assert any(s.version < expected[sid] for sid, s in before_kill.items())  # really mid-stream
        await publish(kafka_settings, events[half:])
        # restart once the group dropped the dead member, as a restarted pod does
        await asyncio.sleep(SESSION_TIMEOUT_S + 2)
        killed.start()
        await killed.wait_ready()

        done = lambda lt: all(sid in lt and lt[sid].version >= v for sid, v in expected.items())  # noqa: E731
        async with SessionsReader(reference) as ref_reader:
            uninterrupted = await ref_reader.wait_for(done, ref_worker, what="reference run")
        async with SessionsReader(kafka_settings) as reader:
            restarted = await reader.wait_for(done, killed, what="killed + restarted run")

        assert set(restarted) == set(uninterrupted) == set(expected)
        for sid in expected:
            assert restarted[sid].model_dump() == uninterrupted[sid].model_dump(), sid
            assert restarted[sid].version == expected[sid]
        assert sum("closed_on_reboot" in s.flags for s in restarted.values()) == 5
    finally:
        assert ref_worker.stop() == 0, ref_worker.log()
        killed.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=reference.bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(reference.topic_prefix)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()
