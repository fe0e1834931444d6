"""Every charger-initiated message of both versions, through a real gateway and a real Kafka, and
the exact normalised events each produces."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from libs.events.control import AuthAnswer, AuthRequested, AuthResponded
from libs.events.envelope import Source, utcnow
from libs.events.follower import TopicFollower
from libs.events.identity import ocpp16_transaction_id, session_id
from libs.events.producer import EventProducer
from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import KEYS, V16_STATION, V201_STATION, gateway_settings, read_topics

pytestmark = pytest.mark.kafka
TOPICS = ["station-events", "transaction-events", "meter-values"]


# One base per run: ts(0) sent and ts(0) asserted must be the same instant even across a second tick.
_BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def ts(seconds: int = 0) -> str:
    return (_BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def v16(gateway, station=V16_STATION) -> V16Station:
    s = V16Station(station, f"ws://127.0.0.1:{gateway.server.port}/ocpp", KEYS[station])
    await s.connect()
    return s


async def v201(gateway, station=V201_STATION) -> V201Station:
    s = V201Station(station, f"ws://127.0.0.1:{gateway.server.port}/ocpp", KEYS[station])
    await s.connect()
    return s


def by_type(events, station):
    out: dict[str, list] = {}
    for e in events:
        if e.station_id == station:
            out.setdefault(e.type, []).append(e)
    return out


async def test_v16_every_message_and_its_events(gateway, catalog):
    s = await v16(gateway)
    try:
        boot = await s.send(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="X1",
                                                    charge_point_serial_number="SN1", firmware_version="2.1",
                                                    iccid="8949", meter_type="EM"))
        assert boot.status == "Accepted" and boot.interval == 300
        await s.send(call16.Heartbeat())
        await s.send(call16.StatusNotification(connector_id=0, error_code="NoError", status="Unavailable"))
        await s.send(call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                               timestamp=ts(0), info="plugged"))
        assert (await s.send(call16.Authorize(id_tag="04A1B2C3D4E5F6"))).id_tag_info["status"] == "Accepted"
        assert (await s.send(call16.Authorize(id_tag="04BLOCKED00001"))).id_tag_info["status"] == "Blocked"
        assert (await s.send(call16.Authorize(id_tag="NOSUCHTAG"))).id_tag_info["status"] == "Invalid"
        start = await s.send(call16.StartTransaction(connector_id=1, id_tag="04A1B2C3D4E5F7", meter_start=1000,
                                                     timestamp=ts(1)))
        tx = ocpp16_transaction_id(V16_STATION, 1, "04A1B2C3D4E5F7", 1000, datetime.fromisoformat(ts(1)))
        assert start.transaction_id == tx
        assert start.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET-ACME"}
        await s.send(call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
            "timestamp": ts(60), "sampled_value": [
                {"value": "2.5", "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                {"value": "11", "unit": "kW", "measurand": "Power.Active.Import"},
                {"value": "16.1", "unit": "A", "measurand": "Current.Import", "phase": "L2"},
                {"value": "<signed>", "format": "SignedData", "measurand": "Energy.Active.Import.Register"},
            ]}]))
        stop = await s.send(call16.StopTransaction(
            meter_stop=3500, timestamp=ts(120), transaction_id=tx, id_tag="04A1B2C3D4E5F7",
            transaction_data=[{"timestamp": ts(120), "sampled_value": [
                {"value": "3500", "context": "Transaction.End"}]}]))
        assert stop.id_tag_info["status"] == "Accepted"
        dt = await s.send(call16.DataTransfer(vendor_id="com.acme", message_id="m1", data="hello"))
        assert dt.status == "UnknownVendorId"
        await s.send(call16.FirmwareStatusNotification(status="Downloading"))
        await s.send(call16.DiagnosticsStatusNotification(status="Uploaded"))
        await s.send(call16.SecurityEventNotification(type="FirmwareUpdated", timestamp=ts(5), tech_info="v2"))
    finally:
        await s.close()

    events = await read_topics(catalog, TOPICS, until=lambda ev: any(
        e.type == "station.disconnected" and e.station_id == V16_STATION for e in ev))
    got = by_type(events, V16_STATION)
    assert all(e.source.value in ("ocpp1.6", "gateway") for e in events if e.station_id == V16_STATION)
    booted = got["station.booted"][0].payload
    assert (booted.vendor, booted.model, booted.serial_number, booted.firmware_version, booted.iccid,
            booted.meter_type, booted.registration_status) == ("ACME", "X1", "SN1", "2.1", "8949", "EM", "Accepted")
    assert len(got["station.heartbeat"]) == 1
    statuses = [(e.payload.evse_id, e.payload.connector_id, e.payload.status, e.payload.detail)
                for e in got["station.status_changed"]]
    assert statuses == [(0, None, "Unavailable", None), (1, 1, "Occupied", "Preparing")]
    preparing = got["station.status_changed"][1]
    assert preparing.occurred_at == datetime.fromisoformat(ts(0)) and preparing.payload.info == "plugged"
    decisions = [(e.payload.id_token, e.payload.status) for e in got["token.authorized"]]
    assert decisions == [("04A1B2C3D4E5F6", "Accepted"), ("04BLOCKED00001", "Blocked"), ("NOSUCHTAG", "Unknown"),
                         ("04A1B2C3D4E5F7", "Accepted"), ("04A1B2C3D4E5F7", "Accepted")]
    started = got["transaction.started"][0]
    sid = session_id(V16_STATION, tx, datetime.fromisoformat(ts(1)))
    assert started.payload.transaction_ref == str(tx) and started.payload.session_id == sid
    assert (started.payload.evse_id, started.payload.connector_id, started.payload.meter_start_wh) == (1, 1, 1000.0)
    updated = got["transaction.updated"][0]
    assert updated.payload.session_id == sid and updated.occurred_at == datetime.fromisoformat(ts(60))
    samples = {(e.payload.measurand, e.payload.phase, e.payload.context): e.payload for e in got["meter.sampled"]}
    energy = samples[("Energy.Active.Import.Register", None, "Sample.Periodic")]
    assert (energy.value, energy.unit, energy.signed_data, energy.location) == (2500.0, "Wh", "<signed>", "Outlet")
    assert samples[("Power.Active.Import", None, "Sample.Periodic")].value == 11000.0
    assert samples[("Current.Import", "L2", "Sample.Periodic")].unit == "A"
    end_sample = samples[("Energy.Active.Import.Register", None, "Transaction.End")]
    assert end_sample.value == 3500.0 and end_sample.transaction_ref == str(tx) and end_sample.evse_id == 1
    ended = got["transaction.ended"][0].payload
    assert (ended.meter_stop_wh, ended.stopped_reason, ended.sample_count, ended.session_id) == (3500.0, "Local", 1, sid)
    assert got["station.data_transfer"][0].payload.data == "hello"
    assert got["station.firmware_status"][0].payload.status == "Downloading"
    assert got["station.diagnostics_status"][0].payload.status == "Uploaded"
    assert got["station.security_event"][0].payload.tech_info == "v2"
    conn = got["station.connected"][0].payload
    assert conn.gateway_instance == gateway.settings.instance_id and conn.protocol == "ocpp1.6"
    assert got["station.disconnected"][0].payload.connection_id == conn.connection_id

    frames = await read_topics(catalog, ["ocpp-frames"], until=lambda ev: len(ev) >= 2 * 14)  # 14 CALLs, in + out
    actions = [f.payload.action for f in frames if f.payload.direction == "in" and f.station_id == V16_STATION]
    assert actions[:3] == ["BootNotification", "Heartbeat", "StatusNotification"]


async def test_v201_every_message_and_its_events(gateway, catalog):
    s = await v201(gateway)
    tx = "TX-201-1"
    try:
        boot = await s.send(call201.BootNotification(
            charging_station={"model": "DC1", "vendor_name": "ACME", "serial_number": "SN2",
                              "modem": {"iccid": "8949", "imsi": "262"}}, reason="PowerUp"))
        assert boot.status == "Accepted"
        await s.send(call201.Heartbeat())
        await s.send(call201.StatusNotification(timestamp=ts(0), connector_status="Occupied", evse_id=1, connector_id=1))
        auth = await s.send(call201.Authorize(id_token={"id_token": "04A1B2C3D4E5F6", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Accepted"
        auth = await s.send(call201.Authorize(id_token={"id_token": "NOSUCHTAG", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Unknown"
        started = await s.send(call201.TransactionEvent(
            event_type="Started", timestamp=ts(1), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": tx, "charging_state": "EVConnected", "remote_start_id": 7},
            evse={"id": 1, "connector_id": 1}, id_token={"id_token": "04A1B2C3D4E5F6", "type": "ISO14443"},
            meter_value=[{"timestamp": ts(1), "sampled_value": [
                {"value": 1.0, "context": "Transaction.Begin", "unit_of_measure": {"unit": "kWh"}}]}]))
        assert started.id_token_info["status"] == "Accepted"
        await s.send(call201.TransactionEvent(
            event_type="Updated", timestamp=ts(60), trigger_reason="MeterValuePeriodic", seq_no=1, offline=True,
            transaction_info={"transaction_id": tx, "charging_state": "Charging"},
            meter_value=[{"timestamp": ts(60), "sampled_value": [
                {"value": 2500, "unit_of_measure": {"unit": "Wh"}},
                {"value": 11, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W", "multiplier": 3}},
                {"value": 3000, "signed_meter_value": {"signed_meter_data": "abc", "signing_method": "ECDSA",
                                                       "encoding_method": "OCMF", "public_key": "pk"},
                 "context": "Sample.Clock", "unit_of_measure": {"unit": "Wh"}}]}]))
        await s.send(call201.TransactionEvent(
            event_type="Ended", timestamp=ts(120), trigger_reason="EVDeparted", seq_no=2,
            transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
            meter_value=[{"timestamp": ts(120), "sampled_value": [
                {"value": 3500, "context": "Transaction.End", "unit_of_measure": {"unit": "Wh"}}]}]))
        await s.send(call201.MeterValues(evse_id=1, meter_value=[{"timestamp": ts(130), "sampled_value": [
            {"value": 230.1, "measurand": "Voltage", "phase": "L1-N", "unit_of_measure": {"unit": "V"}}]}]))
        assert (await s.send(call201.DataTransfer(vendor_id="com.acme", data={"a": 1}))).status == "UnknownVendorId"
        await s.send(call201.FirmwareStatusNotification(status="Installed", request_id=3))
        await s.send(call201.LogStatusNotification(status="Uploaded", request_id=4))
        await s.send(call201.SecurityEventNotification(type="SettingSystemTime", timestamp=ts(2)))
        await s.send(call201.NotifyEvent(generated_at=ts(3), seq_no=0, event_data=[{
            "event_id": 1, "timestamp": ts(3), "trigger": "Alerting", "actual_value": "1",
            "event_notification_type": "HardWiredNotification", "component": {"name": "Door"},
            "variable": {"name": "Open"}}]))
        await s.send(call201.NotifyReport(request_id=9, generated_at=ts(4), seq_no=0, tbc=False, report_data=[{
            "component": {"name": "SecurityCtrlr"}, "variable": {"name": "SecurityProfile"},
            "variable_attribute": [{"value": "2"}]}]))
    finally:
        await s.close()

    events = await read_topics(catalog, TOPICS, until=lambda ev: any(
        e.type == "station.disconnected" and e.station_id == V201_STATION for e in ev))
    got = by_type(events, V201_STATION)
    booted = got["station.booted"][0].payload
    assert (booted.vendor, booted.model, booted.iccid, booted.imsi, booted.reason) == ("ACME", "DC1", "8949", "262", "PowerUp")
    assert [(e.payload.evse_id, e.payload.connector_id, e.payload.status) for e in got["station.status_changed"]] == [
        (1, 1, "Occupied")]
    assert [(e.payload.id_token, e.payload.token_type, e.payload.status) for e in got["token.authorized"]] == [
        ("04A1B2C3D4E5F6", "ISO14443", "Accepted"), ("NOSUCHTAG", "ISO14443", "Unknown"),
        ("04A1B2C3D4E5F6", "ISO14443", "Accepted")]
    sid = session_id(V201_STATION, tx, None)
    st = got["transaction.started"][0].payload
    assert (st.transaction_ref, st.session_id, st.evse_id, st.seq_no, st.meter_start_wh, st.remote_start_id,
            st.charging_state) == (tx, sid, 1, 0, 1000.0, 7, "EVConnected")
    up = got["transaction.updated"][0]
    assert up.payload.offline is True and up.payload.evse_id == 1 and up.payload.charging_state == "Charging"
    en = got["transaction.ended"][0].payload
    assert (en.meter_stop_wh, en.stopped_reason, en.sample_count, en.seq_no) == (3500.0, "EVDisconnected", 1, 2)
    samples = {(e.payload.measurand, e.payload.context, e.payload.phase): e.payload for e in got["meter.sampled"]}
    assert samples[("Power.Active.Import", "Sample.Periodic", None)].value == 11000.0
    signed = samples[("Energy.Active.Import.Register", "Sample.Clock", None)]
    assert signed.signed_data == {"signedMeterData": "abc", "signingMethod": "ECDSA", "encodingMethod": "OCMF",
                                  "publicKey": "pk"}
    assert samples[("Voltage", "Sample.Periodic", "L1-N")].transaction_ref is None
    assert got["station.data_transfer"][0].payload.data == {"a": 1}
    assert got["station.firmware_status"][0].payload.request_id == 3
    assert got["station.diagnostics_status"][0].payload.request_id == 4
    assert got["station.security_event"][0].payload.event_type == "SettingSystemTime"
    assert got["station.events_notified"][0].payload.events[0]["trigger"] == "Alerting"
    assert got["station.report"][0].payload.request_id == 9


async def test_same_fact_resent_gives_same_ids_and_transaction_id(gateway, catalog):
    """A charger re-sends with a new message id (and here on a new connection): same ids."""
    first = []
    for _ in range(2):
        s = await v16(gateway)
        try:
            start = await s.send(call16.StartTransaction(connector_id=2, id_tag="04A1B2C3D4E5F6", meter_start=77,
                                                         timestamp="2026-01-05T10:00:00Z"))
            await s.send(call16.StatusNotification(connector_id=2, error_code="NoError", status="Charging",
                                                   timestamp="2026-01-05T10:00:01Z"))
            first.append(start.transaction_id)
        finally:
            await s.close()
        s2 = await v201(gateway)
        try:
            await s2.send(call201.TransactionEvent(event_type="Started", timestamp="2026-01-05T10:00:00Z",
                                                  trigger_reason="CablePluggedIn", seq_no=0,
                                                  transaction_info={"transaction_id": "R1"},
                                                  evse={"id": 1, "connector_id": 1}))
        finally:
            await s2.close()
    assert first[0] == first[1]
    events = await read_topics(catalog, TOPICS, until=lambda ev: sum(e.type == "transaction.started" for e in ev) >= 4)
    for kind in ("transaction.started", "station.status_changed"):
        ids = [e.event_id for e in events if e.type == kind]
        assert len(ids) >= 2 and len(set(ids)) == len(ids) // 2, kind


async def test_v16_security_whitepaper_messages_and_their_events(gateway, catalog):
    """1.6 security extensions: LogStatusNotification and SignedFirmwareStatusNotification map to
    the same events as DiagnosticsStatusNotification / FirmwareStatusNotification, with requestId."""
    s = await v16(gateway)
    try:
        await s.send(call16.LogStatusNotification(status="Uploading", request_id=41))
        await s.send(call16.LogStatusNotification(status="Uploaded", request_id=41))
        await s.send(call16.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=42))
        await s.send(call16.SignedFirmwareStatusNotification(status="InvalidSignature", request_id=43))
        await s.send(call16.FirmwareStatusNotification(status="Installed"))  # unsigned: no request id
    finally:
        await s.close()
    events = await read_topics(catalog, TOPICS, until=lambda ev: any(
        e.type == "station.disconnected" and e.station_id == V16_STATION for e in ev))
    got = by_type(events, V16_STATION)
    assert [(e.payload.status, e.payload.request_id) for e in got["station.diagnostics_status"]] == [
        ("Uploading", 41), ("Uploaded", 41)]
    assert [(e.payload.status, e.payload.request_id) for e in got["station.firmware_status"]] == [
        ("SignatureVerified", 42), ("InvalidSignature", 43), ("Installed", None)]
    assert all(e.source.value == "ocpp1.6" and not e.clock_suspect for e in got["station.firmware_status"])
    assert set(got) == {"station.connected", "station.diagnostics_status", "station.firmware_status",
                        "station.disconnected"}


async def test_v16_meter_values_outside_a_transaction_and_stop_reason(gateway, catalog):
    s = await v16(gateway)
    try:
        await s.send(call16.MeterValues(connector_id=2, meter_value=[{"timestamp": ts(10), "sampled_value": [
            {"value": "230.4", "measurand": "Voltage", "phase": "L1-N", "unit": "V"}]}]))
        start = await s.send(call16.StartTransaction(connector_id=2, id_tag="04A1B2C3D4E5F6", meter_start=5,
                                                     timestamp=ts(11)))
        await s.send(call16.StopTransaction(meter_stop=905, timestamp=ts(70), transaction_id=start.transaction_id,
                                            reason="EVDisconnected"))  # no idTag: no authorisation
    finally:
        await s.close()
    events = await read_topics(catalog, TOPICS, until=lambda ev: any(
        e.type == "station.disconnected" and e.station_id == V16_STATION for e in ev))
    got = by_type(events, V16_STATION)
    voltage = got["meter.sampled"][0].payload
    assert (voltage.evse_id, voltage.connector_id, voltage.transaction_ref, voltage.session_id, voltage.value,
            voltage.unit) == (2, 1, None, None, 230.4, "V")
    assert "transaction.updated" not in got  # no transactionId: samples only
    ended = got["transaction.ended"][0].payload
    sid = session_id(V16_STATION, start.transaction_id, datetime.fromisoformat(ts(11)))
    assert (ended.evse_id, ended.connector_id, ended.session_id, ended.stopped_reason, ended.id_token,
            ended.meter_stop_wh) == (2, 1, sid, "EVDisconnected", None, 905.0)
    assert [e.payload.id_token for e in got["token.authorized"]] == ["04A1B2C3D4E5F6"]  # the start only


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_implausible_charger_clock_falls_back_to_receive_time(gateway, catalog, protocol):
    s = await (v16(gateway) if protocol == "ocpp1.6" else v201(gateway))
    station = s.station_id
    try:
        for stamp in ("2009-06-01T12:00:00Z", "2099-01-01T00:00:00Z", ts(0)):  # too old, future, plausible
            if protocol == "ocpp1.6":
                await s.send(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available",
                                                       timestamp=stamp))
            else:
                await s.send(call201.StatusNotification(timestamp=stamp, connector_status="Available", evse_id=1,
                                                        connector_id=1))
    finally:
        await s.close()
    events = await read_topics(catalog, TOPICS, until=lambda ev: len(
        [e for e in ev if e.type == "station.status_changed" and e.station_id == station]) >= 3)
    statuses = by_type(events, station)["station.status_changed"]
    assert [e.clock_suspect for e in statuses] == [True, True, False]
    assert all(e.occurred_at == e.received_at for e in statuses[:2])
    assert statuses[2].occurred_at == datetime.fromisoformat(ts(0))
    assert len({e.event_id for e in statuses}) == 3


async def test_authorize_blocked_and_expired_both_versions(catalog, tmp_path):
    """Blocked comes from the index; Expired only from real-time authorisation (the OCPI token has
    no expiry), here answered by a stand-in for the OCPI adapter on auth-requests/auth-responses."""
    app = GatewayApp(gateway_settings(tmp_path, realtime_auth=True, realtime_auth_timeout=5.0,
                                      local_list_sync=False), catalog, health=False)
    producer = EventProducer(catalog, client_id="test-emsp")
    await producer.start()
    replies: set[asyncio.Task] = set()

    def answer(_topic, _key, event):
        if isinstance(event, AuthRequested):  # the eMSP says: this token has expired
            task = asyncio.ensure_future(producer.send(AuthResponded.create(
                payload=AuthAnswer(request_id=event.payload.request_id, allowed="EXPIRED"),
                source=Source.OCPI, received_at=utcnow())))
            replies.add(task)
            task.add_done_callback(replies.discard)

    emsp = TopicFollower(catalog, ["auth-requests"], answer, from_end=True)
    await emsp.start()
    await app.start()
    try:
        s16, s201 = await v16(app), await v201(app)
        try:
            assert (await s16.send(call16.Authorize(id_tag="04EXPIRED0001"))).id_tag_info == {"status": "Expired"}
            assert (await s16.send(call16.Authorize(id_tag="04BLOCKED00001"))).id_tag_info == {"status": "Blocked"}
            expired = await s201.send(call201.Authorize(id_token={"id_token": "04EXPIRED0002", "type": "ISO14443"}))
            blocked = await s201.send(call201.Authorize(id_token={"id_token": "04BLOCKED00001", "type": "ISO14443"}))
            assert (expired.id_token_info, blocked.id_token_info) == ({"status": "Expired"}, {"status": "Blocked"})
        finally:
            await s16.close()
            await s201.close()
        events = await read_topics(catalog, TOPICS, until=lambda ev: sum(e.type == "token.authorized" for e in ev) >= 4)
        decisions = {(e.station_id, e.payload.id_token): (e.payload.status, e.payload.decided_by)
                     for e in events if e.type == "token.authorized"}
        assert decisions == {
            (V16_STATION, "04EXPIRED0001"): ("Expired", "realtime"),
            (V16_STATION, "04BLOCKED00001"): ("Blocked", "index"),
            (V201_STATION, "04EXPIRED0002"): ("Expired", "realtime"),
            (V201_STATION, "04BLOCKED00001"): ("Blocked", "index"),
        }
    finally:
        app.settings.drain_seconds = 0
        await app.stop()
        await emsp.stop()
        await producer.stop()
