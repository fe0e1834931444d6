"""Commands owed a CommandResult across an adapter restart (services/ocpi/pending_commands.py):
the claim that lets exactly one poster POST a result, and what a restarted adapter does with each
kind of leftover. The database is a real SQLite file; Kafka and the eMSP are stand-ins."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from libs.catalog.index import CatalogIndex
from libs.events.control import CommandAnswer, CommandOutcome
from services.ocpi.active_sessions import ActiveSessions
from services.ocpi.commands import CommandsReceiver
from services.ocpi.db import make_engine, now_naive, sessionmaker
from services.ocpi.pending_commands import CommandRow, Pending, PendingCommands, create_tables, scan_start
from services.ocpi.settings import OcpiSettings


@pytest.fixture
async def sm(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'ocpi.db'}")
    await create_tables(engine)
    yield sessionmaker(engine)
    await engine.dispose()


def pending(cid: str, *, kind="unlock_connector", age_s: float = 5, left_s: float = 10, **kw) -> Pending:
    now = now_naive()
    return Pending(cid, 1, "UNLOCK_CONNECTOR", f"http://emsp/commands/{cid}", ("NL", "EMS"), kind, "CS1",
                   {"evse_id": 1, "connector_id": 1}, now - timedelta(seconds=age_s),
                   now + timedelta(seconds=left_s), **kw)


async def test_one_claim_wins_and_a_stale_claim_can_be_taken_over(sm):
    store = PendingCommands(sm)
    await store.add(pending("c1"))
    assert await store.claim("c1", "ACCEPTED", None)
    assert not await store.claim("c1", "TIMEOUT", None)  # another poster, or a replica
    async with sm() as db:
        row = await db.get(CommandRow, "c1")
    assert (row.result, row.done_at) == ("ACCEPTED", None)
    assert not await store.claim("c1", "ACCEPTED", None, stale_claim=row.claimed_at - timedelta(seconds=1))
    assert await store.claim("c1", "ACCEPTED", None, stale_claim=row.claimed_at)  # its poster died
    await store.done("c1")
    async with sm() as db:
        row = await db.get(CommandRow, "c1")
    assert not await store.claim("c1", "ACCEPTED", None, stale_claim=row.claimed_at)  # posted: never again
    assert await store.unfinished(now_naive()) == []


class FakeScan:
    """command-results as a dict: what the gateway published while no adapter listened."""

    published: dict[str, CommandAnswer] = {}
    since: datetime | None = None

    def __init__(self, _kafka, command_ids, since):
        self.ids = set(command_ids)
        FakeScan.since = since

    async def start(self):
        pass

    async def stop(self):
        pass

    async def answer(self, command_id: str, timeout: float):
        assert command_id in self.ids
        if command_id in self.published:
            return self.published[command_id]
        await asyncio.sleep(min(max(timeout, 0), 0.2))
        return None


class FakeClient:
    def __init__(self):
        self.sent = []

    async def send(self, station_id, kind, args, *, timeout_s, command_id, reply_context):
        self.sent.append((station_id, str(kind), args, command_id, reply_context["response_url"]))
        return CommandAnswer(command_id=command_id, outcome=CommandOutcome.ANSWERED, status="Unlocked")


async def test_a_restarted_adapter_posts_every_result_still_owed(sm):
    receiver = CommandsReceiver(OcpiSettings(), CatalogIndex(), ActiveSessions(), sm, client=None)
    receiver.scan_factory = FakeScan
    receiver.commands = FakeClient()
    posted: list[tuple[str, str, str | None]] = []

    async def post_result(partner_id, url, result, message, to_party=None):
        assert (partner_id, to_party) == (1, ("NL", "EMS"))
        posted.append((url.rsplit("/", 1)[1], result, message))
        return True
    receiver.post_result = post_result

    store = receiver.pending
    stale = now_naive() - timedelta(minutes=10)
    rows = [
        pending("answered-while-down", sent_at=stale),
        pending("sent-never-answered", sent_at=stale, left_s=-1),
        pending("never-sent", left_s=8),
        pending("never-sent-expired", left_s=-1),
        pending("immediate", kind="cancel_reservation", result="UNKNOWN_RESERVATION",
                message="the reservation is not known"),
        pending("claimed-poster-died", result="EVSE_OCCUPIED", message="charge point answered Occupied"),
        pending("already-posted"),
        pending("accepted-after-start", age_s=-5),  # this run's own: not recovered
    ]
    for p in rows:
        await store.add(p)
    async with sm.begin() as db:
        (await db.get(CommandRow, "claimed-poster-died")).claimed_at = stale
        (await db.get(CommandRow, "already-posted")).claimed_at = stale
        (await db.get(CommandRow, "already-posted")).done_at = stale
        for cid in ("answered-while-down", "sent-never-answered"):
            (await db.get(CommandRow, cid)).sent_at = stale
    FakeScan.published = {"answered-while-down": CommandAnswer(command_id="answered-while-down",
                                                               outcome=CommandOutcome.ANSWERED, status="UnlockFailed")}

    ready = asyncio.Event()
    ready.set()
    assert await receiver.recover(None, ready.wait, before=now_naive()) == 6
    await asyncio.wait_for(asyncio.gather(*list(receiver._tasks)), 10)

    assert sorted(posted) == sorted([
        ("answered-while-down", "FAILED", "charge point answered UnlockFailed"),
        ("sent-never-answered", "TIMEOUT", "no answer from the charge point in time"),
        ("never-sent", "ACCEPTED", None),
        ("never-sent-expired", "FAILED", "the command expired before it could be sent to the charge point"),
        ("immediate", "UNKNOWN_RESERVATION", "the reservation is not known"),
        ("claimed-poster-died", "EVSE_OCCUPIED", "charge point answered Occupied"),
    ])
    # only the command that never reached Kafka is sent again, with its id and arguments
    assert receiver.commands.sent == [("CS1", "unlock_connector", {"evse_id": 1, "connector_id": 1}, "never-sent",
                                       "http://emsp/commands/never-sent")]
    # the scan starts before the oldest unresolved command, with a margin for clock skew
    assert FakeScan.since == scan_start([p for p in rows if p.command_id in (
        "answered-while-down", "sent-never-answered", "never-sent", "never-sent-expired")])
    assert [p.command_id for p in await store.unfinished(now_naive() + timedelta(minutes=1))] == [
        "accepted-after-start"]
    # a second recovery (another replica, a second restart) posts nothing again
    assert await receiver.recover(None, ready.wait, before=now_naive() - timedelta(seconds=1)) == 0
