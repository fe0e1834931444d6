"""Event streams replayed through the real broker into the running session worker.

One worker run replays many independent stations (one real-world mess case each) and the
assertions are per station: the 1.6 / 2.0.1 equivalence, catalog enrichment, every mess case,
auth methods, DLQ, finality and amendment.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer

from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.sessions import AuthMethod, PeriodState, SessionStatus
from libs.events.transactions import MeterSampled
from tests.integration.sessions.harness import SessionsReader, Worker, apply_example_catalog, publish, replay
from tests.integration.sessions.streams import Charger, standard_session

pytestmark = pytest.mark.kafka
GRACE_S = 6


def comparable(session, *, drop=("version", "final", "last_updated", "amended")):
    return session.model_dump(exclude=set(drop))


def by_station(latest, station_id):
    found = [s for s in latest.values() if s.station_id == station_id]
    assert len(found) == 1, f"{station_id}: expected one session, got {found}"
    return found[0]


async def test_mess_cases_equivalence_finality_and_amendment(kafka_settings, tmp_path):
    await apply_example_catalog(kafka_settings)
    worker = Worker(kafka_settings, tmp_path, finality_grace_s=str(GRACE_S),
                    finality_check_interval_s="0.5").start()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    streams: dict[str, list] = {}

    # 1.6 and 2.0.1 give the same session (BER-AC-001 speaks 1.6, BER-AC-002 2.0.1: both in the catalog)
    _, streams["BER-AC-001"] = standard_session(Charger("BER-AC-001", "1.6", base=base))
    _, streams["BER-AC-002"] = standard_session(Charger("BER-AC-002", "2.0.1", base=base))
    # duplicated events: every event twice, then the whole stream again
    _, clean_dup = standard_session(Charger("DUP-1", "2.0.1", base=base), token="TAG-DUP")
    streams["DUP-1"] = [e for e in clean_dup for _ in (0, 1)] + clean_dup
    # out of order (1.6 gateway that puts session_id on every fact)
    _, clean_ooo = standard_session(Charger("OOO-1", "1.6", base=base, with_session_id=True), token="TAG-OOO")
    streams["OOO-1"] = random.Random(7).sample(clean_ooo, len(clean_ooo))
    # offline-queued transaction that happened 30 hours ago and arrives now
    old = Charger("OFF-1", "2.0.1", base=base - timedelta(hours=27))
    _, offline = standard_session(old)
    streams["OFF-1"] = [e.model_copy(update={"payload": e.payload.model_copy(update={"offline": True})})
                        if hasattr(e.payload, "offline") else e for e in offline]
    # meter values before the start event (1.6 without session_id on the samples)
    _, clean_mbs = standard_session(Charger("MBS-1", "1.6", base=base), token="TAG-MBS")
    streams["MBS-1"] = [e for e in clean_mbs if e.type == "meter.sampled"] + [
        e for e in clean_mbs if e.type != "meter.sampled"]
    # a station that reboots mid-session: no stop ever comes
    rb = Charger("RBT-1", "1.6", base=base)
    ref = rb.tx_ref("04A1B2C3D4E5F6", 1000, 0)
    streams["RBT-1"] = [rb.started(ref, 0, 1000, "04A1B2C3D4E5F6"), rb.sample(ref, 10, 2000),
                        rb.sample(ref, 20, 3000), rb.boot(25)]
    # stop without meter value
    ns = Charger("NOSTOP-1", "2.0.1", base=base)
    ref = ns.tx_ref("04A1", 0, 0)
    streams["NOSTOP-1"] = [ns.started(ref, 0, 500, "04A1"), ns.sample(ref, 10, 2500, start_min=0),
                           ns.sample(ref, 20, 4500, start_min=0), ns.ended(ref, 30, None, start_min=0)]
    # meter counter reset mid-session
    rs = Charger("RST-1", "1.6", base=base)
    ref = rs.tx_ref("04A1", 10_000, 0)
    streams["RST-1"] = [rs.started(ref, 0, 10_000, "04A1"), rs.sample(ref, 10, 12_000), rs.sample(ref, 20, 14_000),
                        rs.sample(ref, 25, 0), rs.sample(ref, 30, 1_500), rs.ended(ref, 40, 3_000)]
    # 2.0.1 idToken that arrives only in an Updated event; then a remote start (remoteStartId) on the same station
    mc = Charger("MUC-DC-001", "2.0.1", base=base)
    streams["MUC-DC-001"] = [
        mc.started("TOK-TX", 0, 0, None, charging_state="EVConnected"),
        mc.updated("TOK-TX", 1, token="04A1B2C3D4E5F7", charging_state="Charging", seq=1),
        mc.sample("TOK-TX", 20, 10_000), mc.ended("TOK-TX", 30, 10_000, seq=2),
        mc.remote_start(99, "vst-app-user-0000000000000000000042", "REF-77", remote_start_id=77),
        mc.started("RS-TX", 100, 0, "vst-app-user-0000000000000000000042", token_type="Central", remote_start_id=77),
        mc.sample("RS-TX", 110, 3000), mc.ended("RS-TX", 120, 3000, seq=1),
    ]
    # 1.6 remote start correlated by idTag + connector + time window
    m16 = Charger("MUC-DC-002", "1.6", base=base)
    ref = m16.tx_ref("04A1B2C3D4E5F6", 0, 0)
    streams["MUC-DC-002"] = [m16.remote_start(-1, "04A1B2C3D4E5F6", "REF-16"),
                             m16.started(ref, 0, 0, "04A1B2C3D4E5F6"), m16.ended(ref, 10, 2000)]
    # real-time authorisation with the eMSP (unknown token: OCPI fields fall back to the operator)
    au = Charger("AUTH-1", "1.6", base=base)
    ref = au.tx_ref("UNKNOWN-TAG", 0, 0)
    streams["AUTH-1"] = [au.authorized(-0.5, "UNKNOWN-TAG", "AR-1"), au.started(ref, 0, 0, "UNKNOWN-TAG"),
                         au.ended(ref, 10, 1000)]
    # finality then a late offline change -> amended; and an active session that never becomes final
    fin = Charger("FIN-1", "2.0.1", base=base)
    _, streams["FIN-1"] = standard_session(fin)
    act = Charger("ACT-1", "2.0.1", base=base)
    streams["ACT-1"] = [act.started("A", 0, 0, "04A1"), act.sample("A", 5, 900)]

    try:
        await worker.wait_ready()
        await publish(kafka_settings, [e for s in streams.values() for e in s])
        async with EventProducer(kafka_settings) as producer:  # undecodable input
            topic = kafka_settings.topics().name("transaction-events")
            await producer.send_raw(topic, b"BER-AC-001", b"\x00not json")
            await producer.send_raw(topic, b"BER-AC-001", b'{"type": "transaction.started", "schema_version": 99}')

        # every fact absorbed (the pure core's version for the stream) and, when completed, the finality mark
        expected = {sid: s.version + (s.status != SessionStatus.ACTIVE)
                    for sid, s in replay([e for s in streams.values() for e in s]).items()}
        assert len(expected) == len(streams) + 1  # MUC-DC-001 has two sessions
        async with SessionsReader(kafka_settings) as reader:
            latest = await reader.wait_for(
                lambda lt: all(sid in lt and lt[sid].version >= v for sid, v in expected.items()),
                worker, what="every session at its expected version")
            assert {sid: s.version for sid, s in latest.items()} == expected

            # --- 1.6 / 2.0.1 equivalence + catalog enrichment
            s16, s201 = by_station(latest, "BER-AC-001"), by_station(latest, "BER-AC-002")
            for field in ("kwh", "start_date_time", "end_date_time", "charging_periods", "status", "cdr_token",
                          "meter_start_wh", "meter_stop_wh", "auth_method", "location_id", "currency", "tariff_ids"):
                assert getattr(s16, field) == getattr(s201, field), field
            assert s16.session_id != s201.session_id and s16.evse_uid == "BER01-AC001-1"
            assert s201.evse_uid == "BER01-AC002-1" and s16.location_id == "LOC-BER-01"
            assert (s16.currency, s16.tariff_ids, s16.connector_uid) == ("EUR", ["AC-STANDARD"], "1")
            assert s16.cdr_token.model_dump() == {"uid": "04A1B2C3D4E5F6", "type": "RFID",
                                                  "contract_id": "DE-VST-C00000001-A", "country_code": "DE",
                                                  "party_id": "VST"}
            assert s16.kwh == Decimal("7.000") and s16.status == SessionStatus.COMPLETED
            assert [(p.state, p.energy_wh) for p in s16.charging_periods] == [
                (PeriodState.CHARGING, 5500.0), (PeriodState.SUSPENDED, 0.0), (PeriodState.CHARGING, 1500.0),
                (PeriodState.IDLE, 0.0)]
            assert s16.charging_periods[0].max_power_w == 11000.0
            assert s16.end_date_time - s16.start_date_time == timedelta(minutes=60)

            # --- duplicates and out-of-order give exactly the clean stream's session
            for station, clean in (("DUP-1", clean_dup), ("OOO-1", clean_ooo), ("MBS-1", clean_mbs)):
                (expected,) = replay(clean).values()
                got = by_station(latest, station)
                assert comparable(got) == comparable(expected), station
                assert got.version == expected.version + 1, station  # + the finality mark
            # --- offline-queued hours late: charger times kept, completed, priced like any other
            off = by_station(latest, "OFF-1")
            assert off.start_date_time == old.t(0) and off.end_date_time == old.t(60)
            assert off.kwh == Decimal("7.000") and off.status == SessionStatus.COMPLETED

            # --- reboot mid-session: closed at its last fact before the boot, flagged
            rbt = by_station(latest, "RBT-1")
            assert rbt.status == SessionStatus.COMPLETED and "closed_on_reboot" in rbt.flags
            assert rbt.end_date_time == rb.t(20) and rbt.kwh == Decimal("2.000") and rbt.meter_stop_wh == 3000

            # --- stop without meter value: last register reading is the stop
            nst = by_station(latest, "NOSTOP-1")
            assert "stop_without_meter_value" in nst.flags
            assert (nst.kwh, nst.meter_stop_wh) == (Decimal("4.000"), 4500)

            # --- meter counter reset: no negative energy, both stretches counted
            rst = by_station(latest, "RST-1")
            assert rst.kwh == Decimal("7.000") and "meter_reset" in rst.flags

            # --- 2.0.1 idToken only in an Updated; remote start via remoteStartId
            muc = {s.transaction_ref: s for s in latest.values() if s.station_id == "MUC-DC-001"}
            tok = muc["TOK-TX"]
            assert tok.cdr_token.contract_id == "DE-VST-C00000002-B" and tok.kwh == Decimal("10.000")
            assert tok.auth_method == AuthMethod.WHITELIST and tok.currency == "EUR"
            assert tok.tariff_ids == ["DC-TIME-OF-DAY"] and tok.location_id == "LOC-MUC-01"
            assert tok.charging_periods[0].state == PeriodState.SUSPENDED  # EVConnected before charging
            rs201 = muc["RS-TX"]
            assert (rs201.auth_method, rs201.authorization_reference) == (AuthMethod.COMMAND, "REF-77")
            assert rs201.cdr_token.type == "APP_USER" and rs201.cdr_token.contract_id == "DE-VST-C00000042-X"

            # --- 1.6 remote start by idTag + connector + window
            r16 = by_station(latest, "MUC-DC-002")
            assert (r16.auth_method, r16.authorization_reference) == (AuthMethod.COMMAND, "REF-16")

            # --- real-time authorisation, unknown token falls back to the operator
            aut = by_station(latest, "AUTH-1")
            assert (aut.auth_method, aut.authorization_reference) == (AuthMethod.AUTH_REQUEST, "AR-1")
            assert aut.cdr_token.model_dump() == {"uid": "UNKNOWN-TAG", "type": "RFID", "contract_id": "UNKNOWN-TAG",
                                                  "country_code": "DE", "party_id": "VST"}
            assert aut.location_id is None

            # --- active session never becomes final
            active = by_station(latest, "ACT-1")
            assert active.status == SessionStatus.ACTIVE and not active.final

            # --- amendment: a late offline sample after finality
            fin_before = by_station(latest, "FIN-1")
            assert fin_before.final and not fin_before.amended
            late = MeterSampled.create(
                payload={"transaction_ref": fin_before.transaction_ref, "evse_id": 1, "connector_id": 1,
                         "measurand": "Power.Active.Import", "value": 7400.0, "unit": "W"},
                source=Source.OCPP201, station_id="FIN-1", occurred_at=fin.t(45), received_at=datetime.now(UTC))
            await publish(kafka_settings, [late])
            latest = await reader.wait_for(lambda lt: lt[fin_before.session_id].amended, worker, what="amended")
            fin_after = latest[fin_before.session_id]
            assert fin_after.final and fin_after.version == fin_before.version + 1
            assert fin_after.charging_periods[2].max_power_w == 7400.0
            assert fin_before.charging_periods[2].max_power_w == 9000.0  # derived from energy before

        # --- DLQ: both bad records with their reason and original bytes; the worker lives on
        dlq = AIOKafkaConsumer(kafka_settings.topics().dlq("sessions"), bootstrap_servers=kafka_settings.bootstrap,
                               auto_offset_reset="earliest", group_id=None)
        await dlq.start()
        try:
            letters = []
            async with asyncio.timeout(30):
                while len(letters) < 2:
                    for recs in (await dlq.getmany(timeout_ms=300)).values():
                        letters += recs
        finally:
            await dlq.stop()
        reasons = {dict(r.headers)["dlq.reason"].decode(): r.value for r in letters}
        assert reasons == {"not_json": b"\x00not json",
                           "unsupported_schema_version": b'{"type": "transaction.started", "schema_version": 99}'}
        worker.alive()
        status, body = worker.get("/metrics")
        assert status == 200 and b"voltstream_sessions_published_total" in body
        assert worker.get("/healthz")[0] == 200
    finally:
        assert worker.stop() == 0, worker.log()
