"""Local authorisation lists follow token changes: prioritised, capped at the station's limit,
chunked by its per-message limits, differential after the first sync, 1.6 short aliases; and
OCPI 2.2.1 WhitelistType vs each charger's local pre-authorisation (ALLOWED_OFFLINE only where
the charger still asks online; NEVER nowhere)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from libs.catalog.index import short_alias
from libs.catalog.models import TokenRecord, token_key
from libs.commands.client import open_client
from libs.events.control import CommandKind as K
from libs.events.control import CommandOutcome
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.reference import TokenPublished
from libs.ocpi.models import Token
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import KEYS, V16_STATION, V201_STATION, gateway_settings, url

pytestmark = pytest.mark.kafka

PARTNER = "partner:EMSP1"
LONG_OFFLINE = "partner-offline-long-uid-00000001"
OWN = ["04A1B2C3D4E5F6", "04A1B2C3D4E5F7", "vst-app-user-0000000000000000000042"]  # valid catalog tokens


def partner_token(uid: str, whitelist: str, valid: bool = True) -> TokenPublished:
    now = datetime.now(UTC)
    token = Token.model_validate({
        "country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": f"NL-EMS-{uid[:20]}",
        "issuer": "eMSP One", "valid": valid, "whitelist": whitelist, "last_updated": now})
    return TokenPublished.create(
        payload=TokenRecord(record_key=token_key("NL", "EMS", uid, "RFID"), owner=PARTNER, last_updated=now,
                            token=token), source=Source.OCPI, occurred_at=now)


def uids_of(station) -> set[str]:
    if station.protocol == "ocpp1.6":
        return set(station.device.local_list)
    return {k.split(":", 1)[1] for k in station.device.local_list}


def expected(uids: list[str], v16: bool) -> set[str]:
    return {short_alias(u) for u in uids} if v16 else set(uids)


async def until(predicate, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_local_lists_follow_tokens(catalog, tmp_path):
    async with EventProducer(catalog) as producer:
        await producer.send_many(
            [partner_token(f"P-ALLOWED-{i:02}", "ALLOWED") for i in range(10)]
            + [partner_token("P-ALWAYS-0", "ALWAYS"), partner_token("P-OFFLINE-0", "ALLOWED_OFFLINE"), partner_token("P-OFFLINE-1", "ALLOWED_OFFLINE"),
               partner_token(LONG_OFFLINE, "ALLOWED_OFFLINE"), partner_token("P-NEVER", "NEVER"),
               partner_token("P-INVALID", "ALLOWED", valid=False)])
        app = GatewayApp(gateway_settings(tmp_path, local_list_interval=0.3), catalog, health=False)
        await app.start()
        base = url(app, "x").rsplit("/", 1)[0]
        v16 = V16Station(V16_STATION, base, key=KEYS[V16_STATION])
        v201 = V201Station(V201_STATION, base, key=KEYS[V201_STATION])
        # local pre-authorisation off (the simulator's default, set here to say so): ALLOWED_OFFLINE may be listed
        v16.device.config.update({"LocalAuthListMaxLength": "8", "SendLocalListMaxLength": "3",
                                  "LocalPreAuthorize": "false"})
        v201.device.config.update({"LocalAuthListCtrlr.Entries.MaxSet": "8", "LocalAuthListCtrlr.ItemsPerMessage": "5",
                                   "LocalAuthListCtrlr.BytesPerMessage": "700", "AuthCtrlr.LocalPreAuthorize": "false"})
        stations = (v16, v201)
        try:
            for s in stations:
                await s.connect()
                await s.boot()
            # first sync: 17 candidates, capacity 8: own tokens, then ALWAYS, ALLOWED_OFFLINE, ALLOWED (by uid)
            wanted = OWN + ["P-ALWAYS-0", "P-OFFLINE-0", "P-OFFLINE-1", LONG_OFFLINE, "P-ALLOWED-00"]
            for s in stations:
                await until(lambda s=s: uids_of(s) == expected(wanted, s is v16))
                messages = s.device.list_messages
                assert messages[0]["update"] == "Full"
                assert all(m["update"] == "Differential" for m in messages[1:])
                # 1.6: 3 items per message; 2.0.1: 5 items but 700 bytes, which allow only 4
                assert [m["items"] for m in messages] == ([3, 3, 2] if s is v16 else [4, 4])
                assert s.device.list_version == app.local_lists.states[s.station_id].version
            assert short_alias(LONG_OFFLINE) in v16.device.local_list and len(short_alias(LONG_OFFLINE)) <= 20
            assert "ISO14443:04A1B2C3D4E5F6" in v201.device.local_list
            assert "Central:vst-app-user-0000000000000000000042" in v201.device.local_list
            assert v16.device.local_list[short_alias("04A1B2C3D4E5F7")] == {"status": "Accepted",
                                                                            "parent_id_tag": "FLEET-ACME"}
            sent = {s.station_id: len(s.device.list_messages) for s in stations}

            # a token change: only the difference travels (removal + addition)
            await producer.tombstone("tokens", token_key("NL", "EMS", "P-OFFLINE-0", "RFID"))
            await producer.send(partner_token("P-OFFLINE-2", "ALLOWED_OFFLINE"))
            wanted = [u for u in wanted if u != "P-OFFLINE-0"] + ["P-OFFLINE-2"]
            for s in stations:
                await until(lambda s=s: uids_of(s) == expected(wanted, s is v16))
                new = s.device.list_messages[sent[s.station_id]:]
                assert new and all(m["update"] == "Differential" for m in new)
                assert sum(m["items"] for m in new) == 2

            # a blocked token leaves the list
            await producer.send(partner_token("P-OFFLINE-1", "ALLOWED_OFFLINE", valid=False))
            wanted = [u for u in wanted if u != "P-OFFLINE-1"] + ["P-ALLOWED-01"]
            for s in stations:
                await until(lambda s=s: uids_of(s) == expected(wanted, s is v16))

            # on demand, as a command: a Full update, answered with the charger's status
            async with open_client(catalog) as client:
                await until(lambda: client.presence.is_online(V16_STATION) and client.presence.is_online(V201_STATION))
                for s in stations:
                    before = len(s.device.list_messages)
                    answer = await client.send(s.station_id, K.SEND_LOCAL_LIST, {"full": True}, timeout_s=20)
                    assert answer.outcome == CommandOutcome.ANSWERED and answer.status == "Accepted"
                    assert answer.response["updateType"] == "Full" and answer.response["entries"] == 8
                    assert answer.response["localPreAuthorize"] is False
                    assert s.device.list_messages[before]["update"] == "Full"
                    assert uids_of(s) == expected(wanted, s is v16)

            # a reconnect to the same content sends nothing: the version is the content's hash
            sent = {s.station_id: len(s.device.list_messages) for s in stations}
            await v16.close()
            await v16.connect()
            await until(lambda: app.registry.get(V16_STATION) is not None and V16_STATION in app.local_lists.states
                        and app.local_lists.states[V16_STATION].connection_id
                        == app.registry.get(V16_STATION).connection_id)
            # after the version, the pre-authorisation is read for the new connection
            await until(lambda: v16.device.actions()[-2:] == ["GetLocalListVersion", "GetConfiguration"])
            await asyncio.sleep(1.0)  # a few more reconcile rounds
            assert len(v16.device.list_messages) == sent[V16_STATION]
        finally:
            for s in stations:
                await s.close()
            app.settings.drain_seconds = 0
            await app.stop()


async def test_allowed_offline_only_where_the_charger_asks_online(catalog, tmp_path):
    """Four chargers, both versions: local pre-authorisation off (ALLOWED_OFFLINE listed), on,
    unreadable (CALLERROR) and unknown (no such variable): not listed. A set_configuration through
    the gateway re-reads it at once; a change on the charger itself at the next refresh."""
    always_listed = OWN + ["P-ALWAYS", "P-ALLOWED"]
    offline = ["P-OFFLINE", LONG_OFFLINE]
    async with EventProducer(catalog) as producer:
        await producer.send_many([
            partner_token("P-ALWAYS", "ALWAYS"), partner_token("P-ALLOWED", "ALLOWED"),
            partner_token("P-OFFLINE", "ALLOWED_OFFLINE"), partner_token(LONG_OFFLINE, "ALLOWED_OFFLINE"),
            partner_token("P-OFFLINE-BLOCKED", "ALLOWED_OFFLINE", valid=False), partner_token("P-NEVER", "NEVER")])
        app = GatewayApp(gateway_settings(tmp_path, local_list_interval=0.3), catalog, health=False)
        await app.start()
        base = url(app, "x").rsplit("/", 1)[0]
        v16_off = V16Station(V16_STATION, base, key=KEYS[V16_STATION])
        v201_on = V201Station(V201_STATION, base, key=KEYS[V201_STATION])
        v16_unreadable = V16Station("MUC-DC-001", base, key=KEYS["MUC-DC-001"])
        v201_unknown = V201Station("MUC-DC-002", base, key=KEYS["MUC-DC-002"])
        v16_off.device.config["LocalPreAuthorize"] = "false"
        v201_on.device.config["AuthCtrlr.LocalPreAuthorize"] = "true"
        v16_unreadable.device.unreadable.add("LocalPreAuthorize")
        del v201_unknown.device.config["AuthCtrlr.LocalPreAuthorize"]
        stations = (v16_off, v201_on, v16_unreadable, v201_unknown)

        def listed(s, uids: list[str]) -> bool:
            return uids_of(s) == expected(uids, s.protocol == "ocpp1.6")

        try:
            for s in stations:
                await s.connect()
                await s.boot()
            await until(lambda: listed(v16_off, always_listed + offline))
            for s in (v201_on, v16_unreadable, v201_unknown):
                await until(lambda s=s: listed(s, always_listed))
            states = app.local_lists.states
            assert [states[s.station_id].pre_authorize for s in stations] == [False, True, None, None]
            assert states["MUC-DC-001"].pre_authorize_failed and not states["MUC-DC-002"].pre_authorize_failed
            # read through the configuration mapping: 1.6 GetConfiguration, 2.0.1 GetVariables AuthCtrlr
            assert ("GetConfiguration", {"key": ["LocalPreAuthorize"]}) in v16_off.device.calls
            assert any(a == "GetVariables" and {(v["component"]["name"], v["variable"]["name"])
                                                for v in p["getVariableData"]}
                       == {("AuthCtrlr", "LocalPreAuthorize"), ("AuthCtrlr", "DisableRemoteAuthorization")}
                       for a, p in v201_on.device.calls)

            async with open_client(catalog) as client:
                await until(lambda: all(client.presence.is_online(s.station_id) for s in stations))
                # switched through the gateway: re-read at once (the refresh is 300 s away)
                answer = await client.send(V201_STATION, K.SET_CONFIGURATION,
                                           {"key": "AuthCtrlr.LocalPreAuthorize", "value": "false"}, timeout_s=20)
                assert answer.outcome == CommandOutcome.ANSWERED and answer.status == "Accepted"
                await until(lambda: listed(v201_on, always_listed + offline), timeout=10)
                sent = len(v16_off.device.list_messages)
                answer = await client.send(V16_STATION, K.SET_CONFIGURATION,
                                           {"key": "LocalPreAuthorize", "value": "true"}, timeout_s=20)
                assert answer.outcome == CommandOutcome.ANSWERED and answer.status == "Accepted"
                await until(lambda: listed(v16_off, always_listed), timeout=10)
                new = v16_off.device.list_messages[sent:]
                assert [m["update"] for m in new] == ["Differential"] and new[0]["items"] == 2  # 2 removals
                answer = await client.send(V16_STATION, K.SEND_LOCAL_LIST, {}, timeout_s=20)
                assert answer.response["localPreAuthorize"] is True and answer.response["entries"] == 5

            # changed on the chargers themselves: seen at the next refresh (a failed read is retried)
            v16_unreadable.device.unreadable.clear()  # its LocalPreAuthorize is "false"
            v201_unknown.device.config["AuthCtrlr.LocalPreAuthorize"] = "false"
            app.local_lists.preauth_refresh = 0.5
            for s in (v16_unreadable, v201_unknown):
                await until(lambda s=s: listed(s, always_listed + offline), timeout=10)
            assert listed(v16_off, always_listed) and listed(v201_on, always_listed + offline)
        finally:
            for s in stations:
                await s.close()
            app.settings.drain_seconds = 0
            await app.stop()
