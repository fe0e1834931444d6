"""Pure parts of the gateway: the error table, framing, normalisation, redaction, the spool."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.events.envelope import Source
from libs.events.station import AuthDecision, StationHeartbeat
from services.gateway import rpc
from services.gateway.authorize import FROM_OCPI_ALLOWED, V16_STATUS, id_tag_info
from services.gateway.errors import TABLE, V16, V201, Fault, OcppFault
from services.gateway.frames import redact
from services.gateway.normalise import parse_time, v16_samples, v16_status, v201_samples
from services.gateway.spool import Spool, SpoolFull

V16_CODES = {"NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
             "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
             "TypeConstraintViolation", "GenericError"}
V201_CODES = {"FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
              "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
              "RpcFrameworkError", "SecurityError", "TypeConstraintViolation"}


def test_error_table_uses_only_each_versions_own_codes():
    assert set(TABLE) == set(Fault)
    assert {v16 for v16, _ in TABLE.values()} <= V16_CODES
    assert {v201 for _, v201 in TABLE.values()} <= V201_CODES
    fault = OcppFault(Fault.MISSING_FIELD)
    assert (fault.code(V16), fault.code(V201)) == ("OccurenceConstraintViolation", "OccurrenceConstraintViolation")


@pytest.mark.parametrize("frame,fault,message_id", [
    ("nope", Fault.NOT_JSON, "-1"), ("[]", Fault.NOT_RPC, "-1"), ('[2, 5, "A", {}]', Fault.NOT_RPC, "-1"),
    ('[9, "x"]', Fault.MESSAGE_TYPE, "x"), ('[2, "x", "A"]', Fault.INCOMPLETE, "x"),
    ('[2, "x", "A", []]', Fault.INCOMPLETE, "x"), ('[3, "x"]', Fault.NOT_RPC, "x"),
])
def test_parse_faults(frame, fault, message_id):
    with pytest.raises(OcppFault) as info:
        rpc.parse(frame)
    assert (info.value.fault, info.value.message_id) == (fault, message_id)


def test_schema_faults_by_keyword():
    def fault_of(protocol, action, payload):
        with pytest.raises(OcppFault) as info:
            rpc.validate(protocol, rpc.CALL, action, payload)
        return info.value.fault
    assert fault_of(V16, "Authorize", {}) == Fault.MISSING_FIELD
    assert fault_of(V16, "Authorize", {"idTag": 5}) == Fault.WRONG_TYPE
    assert fault_of(V16, "Authorize", {"idTag": "x" * 21}) == Fault.BAD_VALUE
    assert fault_of(V201, "Heartbeat", {"x": 1}) == Fault.EXTRA_FIELD


def test_status_and_time_normalisation():
    assert v16_status("SuspendedEV") == ("Occupied", "SuspendedEV")
    assert v16_status("Available") == ("Available", None)
    assert parse_time("2026-01-01T10:00:00") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parse_time("2026-01-01T12:00:00+02:00") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(OcppFault):
        parse_time("soon")


def test_both_versions_give_the_same_sample():
    at = "2026-01-01T10:00:00Z"
    a = v16_samples([{"timestamp": at, "sampledValue": [{"value": "1.5", "unit": "kWh"}]}], evse_id=1)
    b = v201_samples([{"timestamp": at, "sampledValue": [{"value": 1.5, "unitOfMeasure": {"unit": "Wh",
                                                                                         "multiplier": 3}}]}], evse_id=1)
    assert a == b and a[0][1].value == 1500.0 and a[0][1].context == "Sample.Periodic"


def test_authorisation_status_mapping():
    assert V16_STATUS["Unknown"] == "Invalid" and V16_STATUS["NoCredit"] == "Invalid"
    assert FROM_OCPI_ALLOWED["EXPIRED"] == "Expired"
    decision = AuthDecision(id_token="A", status="Expired", decided_by="realtime", group_id="G")
    assert id_tag_info(decision) == {"status": "Expired", "parentIdTag": "G"}


def test_redaction():
    raw = '[2,"1","ChangeConfiguration",{"value":"s3cret","key":"AuthorizationKey"}]'
    assert "s3cret" not in redact(raw)
    raw = '[2,"1","SetNetworkProfile",{"connectionData":{"basicAuthPassword":"pw"}}]'
    assert '"pw"' not in redact(raw)
    assert redact('[2,"1","Heartbeat",{}]') == '[2,"1","Heartbeat",{}]'


async def test_spool_is_ordered_durable_and_bounded(tmp_path):
    events = [StationHeartbeat.create(payload={}, source=Source.OCPP16, station_id="S", frame_identity=("c", i))
              for i in range(5)]
    spool = Spool(tmp_path, max_bytes=10_000)
    await spool.append(events[:3])
    await spool.append(events[3:])
    reopened = Spool(tmp_path, max_bytes=10_000)  # survives a restart
    assert reopened.pending_events == 5
    batch, position = await reopened.peek(limit=2)
    assert [e.event_id for e in batch] == [e.event_id for e in events[:2]]
    await reopened.commit(position, 2)
    rest, position = await Spool(tmp_path, 10_000).peek()
    assert [e.event_id for e in rest] == [e.event_id for e in events[2:]]
    small = Spool(tmp_path / "small", max_bytes=100)
    with pytest.raises(SpoolFull):
        await small.append(events)
