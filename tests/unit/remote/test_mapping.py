"""Version mapping without I/O: every kind builds a CALL the OCA schema accepts, on both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.catalog.index import CatalogIndex
from libs.events.control import CommandKind as K
from services.gateway import rpc
from services.gateway.commands.args import BadArgs, parse_args
from services.gateway.commands.consumer import SeenIds, call_timeout
from services.gateway.commands.local_list import chunks, list_version
from services.gateway.commands.mapping import build_call, status_of
from services.gateway.commands.target import Target

SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
ARGS = {
    K.REMOTE_START: {"id_token": "x" * 30, "evse_id": 1, "charging_profile": {
        "id": 1, "purpose": "tx", "schedule": {"rate_unit": "W", "periods": [{"start": 0, "limit": 7400.5}]}}},
    K.REMOTE_STOP: {"transaction_id": "17"},
    K.RESET: {"hard": False},
    K.UNLOCK_CONNECTOR: {"evse_id": 2},
    K.CHANGE_AVAILABILITY: {"operative": True},
    K.GET_CONFIGURATION: {"keys": ["Ctrlr.Var"]},
    K.SET_CONFIGURATION: {"key": "Ctrlr.Var", "value": "1"},
    K.GET_BASE_REPORT: {},
    K.CLEAR_CACHE: {},
    K.TRIGGER_MESSAGE: {"message": "DiagnosticsStatusNotification"},
    K.UPDATE_FIRMWARE: {"location": "https://x/fw", "retries": 2},
    K.GET_DIAGNOSTICS: {"location": "ftp://x/", "oldest": SOON},
    K.RESERVE_NOW: {"id_token": "T1", "expires": SOON, "group_id": "G"},
    K.CANCEL_RESERVATION: {"reservation_id": 3},
    K.SET_CHARGING_PROFILE: {"profile": {"id": 2, "purpose": "station_max", "kind": "Recurring", "recurrency": "Daily",
                                         "schedule": {"rate_unit": "A", "start": SOON, "duration": 86400,
                                                      "periods": [{"start": 0, "limit": 16.1, "phases": 3}]}}},
    K.CLEAR_CHARGING_PROFILE: {"purpose": "tx_default", "evse_id": 1},
    K.GET_COMPOSITE_SCHEDULE: {"evse_id": 1, "duration": 60, "rate_unit": "W"},
    K.GET_LOCAL_LIST_VERSION: {},
    K.DATA_TRANSFER: {"vendor_id": "v", "data": {"a": 1}},
}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
@pytest.mark.parametrize("kind", list(ARGS))
def test_every_kind_builds_a_schema_valid_call(protocol, kind):
    target = Target("CS1", "cmd-1", CatalogIndex())
    action, payload = build_call(protocol, kind, parse_args(kind, ARGS[kind]), target)
    rpc.validate(protocol, rpc.CALL, action, payload)  # raises OcppFault when the schema refuses it


def test_version_specific_details():
    t = Target("CS1", "cmd-1", CatalogIndex())
    assert build_call("ocpp1.6", K.REMOTE_START, parse_args(K.REMOTE_START, {"id_token": "y" * 30}), t)[1]["idTag"] \
        .startswith("VS")
    a1 = build_call("ocpp2.0.1", K.REMOTE_START, parse_args(K.REMOTE_START, {"id_token": "T"}), t)[1]
    a2 = build_call("ocpp2.0.1", K.REMOTE_START, parse_args(K.REMOTE_START, {"id_token": "T"}), t)[1]
    assert a1["remoteStartId"] == a2["remoteStartId"] > 0  # stable per command id
    assert build_call("ocpp2.0.1", K.RESET, parse_args(K.RESET, {"hard": True}), t)[1] == {"type": "Immediate"}
    with pytest.raises(BadArgs, match="2.0.1"):
        build_call("ocpp1.6", K.GET_DIAGNOSTICS, parse_args(K.GET_DIAGNOSTICS, {"location": "x",
                                                                                 "log_type": "SecurityLog"}), t)
    with pytest.raises(BadArgs, match="rotate_key"):
        parse_args(K.SET_CONFIGURATION, {"key": "AuthorizationKey", "value": "x"})
    assert status_of({"getVariableResult": [{"attributeStatus": "Accepted"}, {"attributeStatus": "Rejected"}]}) \
        == "Rejected"


def test_call_timeout_is_always_inside_expiry():
    now = datetime.now(UTC)
    for left in (0.2, 1.0, 1.5, 5, 30, 600):
        t = call_timeout(now + timedelta(seconds=left), now, configured=30, margin=1.0)
        assert 0 < t < left


def test_seen_ids_and_chunks():
    seen = SeenIds(capacity=2)
    assert seen.add("a") and not seen.add("a") and seen.add("b") and seen.add("c") and seen.add("a")
    items = [{"idTag": f"T{i:03}"} for i in range(10)]
    assert [len(c) for c in chunks(items, 4, None)] == [4, 4, 2]
    assert [len(c) for c in chunks(items, 4, 240)] == [2, 2, 2, 2, 2]  # 200 bytes envelope + 17 per item
    assert chunks([], 4, None) == [[]]
    assert list_version({"a": {"x": 1}, "b": {}}) == list_version({"b": {}, "a": {"x": 1}}) > 0
