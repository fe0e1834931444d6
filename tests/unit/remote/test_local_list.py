"""Local-list content vs OCPI 2.2.1 WhitelistType and the charger's local pre-authorisation,
without I/O: the rule, the reading of 1.6 / 2.0.1 answers, and the per-station read with its
refresh (a fake connection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.catalog.index import CatalogIndex
from libs.catalog.models import CATALOG_OWNER, TokenRecord, token_key
from libs.events.control import CommandKind as K
from libs.events.control import CommandRequest
from libs.events.envelope import Source
from libs.events.reference import TokenPublished
from libs.ocpi.models import Token
from services.gateway.commands import local_list
from services.gateway.commands.local_list import LocalListSync, listable, pre_authorize_of, wanted_list
from services.gateway.connection import CallErrorReceived
from services.gateway.registry import ConnectionRegistry


def record(uid: str, whitelist: str, *, owner: str = "partner:EMSP1", valid: bool = True) -> TokenPublished:
    now = datetime.now(UTC)
    token = Token.model_validate({
        "country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": f"NL-EMS-{uid}",
        "issuer": "eMSP One", "valid": valid, "whitelist": whitelist, "last_updated": now})
    return TokenPublished.create(payload=TokenRecord(record_key=token_key("NL", "EMS", uid, "RFID"), owner=owner,
                                                     last_updated=now, token=token),
                                 source=Source.OCPI, occurred_at=now)


@pytest.fixture
def index() -> CatalogIndex:
    idx = CatalogIndex()
    for event in [record("OWN-1", "ALLOWED_OFFLINE", owner=CATALOG_OWNER), record("A-ALWAYS", "ALWAYS"),
                  record("B-ALLOWED", "ALLOWED"), record("C-OFFLINE", "ALLOWED_OFFLINE"), record("D-NEVER", "NEVER"),
                  record("E-BLOCKED", "ALWAYS", valid=False)]:
        idx.apply("tokens", event.payload.record_key, event)
    return idx


def test_whitelist_rule():
    # ALWAYS / ALLOWED: may be whitelisted anywhere; ALLOWED_OFFLINE: only where the charger still
    # asks online; NEVER: nowhere
    assert [listable(w, pre_authorizes=True) for w in ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")] == \
        [True, True, False, False]
    assert [listable(w, pre_authorizes=False) for w in ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")] == \
        [True, True, True, False]
    # the gateway asks the eMSP for ALLOWED too: then ALLOWED is treated like ALLOWED_OFFLINE
    assert not listable("ALLOWED", pre_authorizes=True, realtime_for_allowed=True)
    assert listable("ALLOWED", pre_authorizes=False, realtime_for_allowed=True)
    assert not listable("SOMETHING_NEW", pre_authorizes=False)


def test_wanted_list_per_pre_authorisation(index):
    off = list(wanted_list(index, "ocpp1.6", 10, pre_authorizes=False))
    on = list(wanted_list(index, "ocpp1.6", 10, pre_authorizes=True))
    # priority: own, ALWAYS, ALLOWED_OFFLINE, ALLOWED; NEVER and invalid never
    assert off == ["OWN-1", "A-ALWAYS", "C-OFFLINE", "B-ALLOWED"]
    assert on == ["A-ALWAYS", "B-ALLOWED"]  # the operator's own ALLOWED_OFFLINE token follows the rule too
    assert list(wanted_list(index, "ocpp1.6", 10)) == on  # unknown counts as on
    assert list(wanted_list(index, "ocpp1.6", 2, pre_authorizes=False)) == ["OWN-1", "A-ALWAYS"]
    assert list(wanted_list(index, "ocpp2.0.1", 10, pre_authorizes=True, realtime_for_allowed=True)) == \
        ["ISO14443:A-ALWAYS"]


def v16(*keys: tuple[str, str], unknown: list[str] | None = None) -> dict:
    answer = {"configurationKey": [{"key": k, "readonly": False, "value": v} for k, v in keys]}
    if unknown:
        answer["unknownKey"] = unknown
    return answer


def v201(**variables: tuple[str, str | None]) -> dict:
    results = []
    for name, (status, value) in variables.items():
        r = {"attributeStatus": status, "component": {"name": "AuthCtrlr"}, "variable": {"name": name}}
        if value is not None:
            r["attributeValue"] = value
        results.append(r)
    return {"getVariableResult": results}


@pytest.mark.parametrize(("answer", "expected"), [
    (v16(("LocalPreAuthorize", "false")), False),
    (v16(("LocalPreAuthorize", "TRUE")), True),
    (v16(("localpreauthorize", " False ")), False),  # 1.6 keys and booleans: case-insensitive
    (v16(unknown=["LocalPreAuthorize"]), None),
    (v16(("LocalPreAuthorize", "")), None),
    (v16(("LocalPreAuthorize", "sometimes")), None),
    ({}, None),
])
def test_reading_16(answer, expected):
    assert pre_authorize_of("ocpp1.6", answer) is expected


@pytest.mark.parametrize(("answer", "expected"), [
    (v201(LocalPreAuthorize=("Accepted", "false"), DisableRemoteAuthorization=("UnknownVariable", None)), False),
    (v201(LocalPreAuthorize=("Accepted", "false"), DisableRemoteAuthorization=("Accepted", "false")), False),
    (v201(LocalPreAuthorize=("Accepted", "true"), DisableRemoteAuthorization=("UnknownVariable", None)), True),
    # never asks the CSMS: its list decides, as with pre-authorisation
    (v201(LocalPreAuthorize=("Accepted", "false"), DisableRemoteAuthorization=("Accepted", "true")), True),
    (v201(LocalPreAuthorize=("UnknownVariable", None), DisableRemoteAuthorization=("UnknownVariable", None)), None),
    (v201(LocalPreAuthorize=("Rejected", None), DisableRemoteAuthorization=("UnknownVariable", None)), None),
    (v201(LocalPreAuthorize=("Accepted", "false"), DisableRemoteAuthorization=("Rejected", None)), None),
    (v201(LocalPreAuthorize=("Accepted", "false")), None),  # an answer leaving a variable out
    ({}, None),
])
def test_reading_201(answer, expected):
    assert pre_authorize_of("ocpp2.0.1", answer) is expected


class FakeConnection:
    """A 1.6 charger with a local list; `preauth` answers the LocalPreAuthorize read (an
    exception is raised)."""

    def __init__(self, preauth):
        self.station_id, self.connection_id, self.protocol = "CS1", "c1", "ocpp1.6"
        self.preauth = preauth
        self.reads = 0
        self.list: set[str] = set()

    async def call(self, action, payload, timeout):
        if action == "GetConfiguration" and payload["key"] == ["LocalPreAuthorize"]:
            self.reads += 1
            if isinstance(self.preauth, Exception):
                raise self.preauth
            return v16(("LocalPreAuthorize", self.preauth))
        if action == "GetConfiguration":
            return v16(("LocalAuthListEnabled", "true"), ("LocalAuthListMaxLength", "50"),
                       ("SendLocalListMaxLength", "50"))
        if action == "GetLocalListVersion":
            return {"listVersion": 0}
        if action == "SendLocalList":
            items = payload.get("localAuthorizationList", [])
            if payload["updateType"] == "Full":
                self.list = set()
            for item in items:
                (self.list.add if "idTagInfo" in item else self.list.discard)(item["idTag"])
            return {"status": "Accepted"}
        raise AssertionError(action)


def set_config(key: str) -> CommandRequest:
    return CommandRequest(command_id="cmd-1", kind=K.SET_CONFIGURATION, args={"key": key, "value": "true"},
                          expires_at=datetime.now(UTC) + timedelta(minutes=1))


async def test_read_once_per_refresh_and_after_a_set_configuration(index, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(local_list.time, "monotonic", lambda: clock[0])
    sync = LocalListSync(index, ConnectionRegistry(), interval=30, call_timeout=5, preauth_refresh=300)
    conn = FakeConnection("false")
    answer = await sync.sync(conn)
    assert conn.list == {"OWN-1", "A-ALWAYS", "C-OFFLINE", "B-ALLOWED"} and answer["localPreAuthorize"] is False
    conn.preauth = "true"  # changed on the charger itself: seen at the next refresh
    clock[0] += 299
    await sync.sync(conn)
    assert conn.reads == 1 and "C-OFFLINE" in conn.list
    clock[0] += 1
    assert (await sync.sync(conn))["localPreAuthorize"] is True
    assert conn.reads == 2 and conn.list == {"A-ALWAYS", "B-ALLOWED"}
    # through a command: stale at once
    conn.preauth = "false"
    sync.command_done(conn, set_config("HeartbeatInterval"))
    await sync.sync(conn)
    assert conn.reads == 2
    sync.command_done(conn, set_config("localpreauthorize"))
    await sync.sync(conn)
    assert conn.reads == 3 and "C-OFFLINE" in conn.list


async def test_unreadable_counts_as_on_and_is_retried_sooner(index, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(local_list.time, "monotonic", lambda: clock[0])
    sync = LocalListSync(index, ConnectionRegistry(), interval=30, call_timeout=5, preauth_refresh=300)
    conn = FakeConnection(CallErrorReceived("InternalError", "cannot read", {}))
    assert (await sync.sync(conn))["localPreAuthorize"] is None
    assert conn.list == {"A-ALWAYS", "B-ALLOWED"}
    conn.preauth = TimeoutError()
    clock[0] += 60
    await sync.sync(conn)
    assert conn.reads == 2 and conn.list == {"A-ALWAYS", "B-ALLOWED"}
    conn.preauth = "false"
    clock[0] += 60
    await sync.sync(conn)
    assert conn.reads == 3 and "C-OFFLINE" in conn.list
