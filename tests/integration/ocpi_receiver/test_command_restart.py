"""CommandResults survive a restart of the OCPI adapter (services/ocpi/pending_commands.py): the
adapter stops while commands are pending, and the one started after it (same database) still POSTs
every CommandResult to its response_url, exactly once — the answer published while no adapter ran,
the answer published after the restart, and a command accepted but never sent before the stop."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from ocpp.v16 import call_result as r16
from ocpp.v201 import call_result as r201

from libs.events.control import CommandResult
from tests.integration.gateway.conftest import read_topics
from tests.integration.ocpi import harness as h
from tests.integration.ocpi_receiver.test_commands import calls, command
from tests.integration.ocpi_receiver.test_tokens import token

pytestmark = pytest.mark.kafka


@pytest.fixture
def world_options() -> dict:
    # the chargers may take 8 s to answer (the gateway waits that long): time for a restart
    return {"call_timeout": 8.0, "command_timeout_s": 16}


def hold(station, action: str, result) -> asyncio.Event:
    """The charger answers `action` only once the returned event is set."""
    gate = asyncio.Event()

    async def answer(**_):
        await gate.wait()
        return result
    station.cp.route_map[action]["_on_action"] = answer
    return gate


async def accepted_command(world, name: str, body: dict) -> str:
    answer, url = await command(world, name, body)
    assert answer["data"] == {"result": "ACCEPTED", "timeout": 16}, answer
    return url


async def test_command_results_survive_an_adapter_restart(world):
    emsp, old = world.emsp, world.ocpi
    gate16 = hold(world.v16, "UnlockConnector", r16.UnlockConnector(status="Unlocked"))
    gate201 = hold(world.v201, "UnlockConnector", r201.UnlockConnector(status="Unlocked"))

    # 1: answered by the charger while no adapter runs
    url_down = await accepted_command(world, "UNLOCK_CONNECTOR", {
        "location_id": "LOC-BER-01", "evse_uid": "BER01-AC001-1", "connector_id": "1"})
    # 2: answered after the restart
    url_after = await accepted_command(world, "UNLOCK_CONNECTOR", {
        "location_id": "LOC-BER-01", "evse_uid": "BER01-AC002-1", "connector_id": "1"})
    await h.until(lambda: calls(world.v16, "UnlockConnector") and calls(world.v201, "UnlockConnector"))
    # 3: ACCEPTED, but the adapter stops before the command reached Kafka
    never_sent = asyncio.Event()
    old.commands.commands.send = lambda *a, **kw: never_sent.wait()
    url_unsent = await accepted_command(world, "START_SESSION", {
        "token": token("04RESTART001"), "location_id": "LOC-BER-01", "evse_uid": "BER01-AC001-2"})

    world.ocpi = None
    await old.stop()
    gate16.set()
    await read_topics(world.kafka, ["command-results"], until=lambda ev: any(
        isinstance(e, CommandResult) and e.payload.reply_context.get("response_url") == url_down for e in ev))
    assert not emsp.results

    world.ocpi = await h.start_service(old.settings, world.kafka)
    assert await emsp.result_for(url_down) == {"result": "ACCEPTED"}
    assert await emsp.result_for(url_unsent) == {"result": "ACCEPTED"}  # sent by the successor
    assert calls(world.v16, "RemoteStartTransaction")[-1] == {"idTag": "04RESTART001", "connectorId": 2}
    gate201.set()
    assert await emsp.result_for(url_after) == {"result": "ACCEPTED"}

    await asyncio.sleep(1.0)  # nothing posted twice
    assert sorted(r.path for r in emsp.results) == sorted(httpx.URL(u).path for u in (url_down, url_after, url_unsent))
    assert len(calls(world.v16, "RemoteStartTransaction")) == 1
