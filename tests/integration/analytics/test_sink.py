"""Real Kafka into the embedded engine: rows equal what was produced, replays change nothing,
rejected rows go to dlq.analytics, and the read-only endpoint serves clickhouse-connect."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.exceptions import DatabaseError

from libs.events.codec import encode
from libs.events.producer import EventProducer
from tests.integration.analytics import dataset
from tests.integration.analytics.conftest import http_client, query, wait_for

TABLES = ("meter_values", "sessions", "cdrs", "station_status", "station_events", "ocpp_frames")
VIEWS = ("energy_per_evse_hour", "energy_per_station_hour", "evse_utilisation_daily", "time_per_status")


async def produce_dataset(kafka_settings, extra=()) -> None:
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many([*dataset.all_events(), *extra])


async def snapshot(settings) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        out[table] = await query(settings, f"SELECT * FROM {table} FINAL ORDER BY ALL")
    for view in VIEWS:
        out[view] = await query(settings, f"SELECT * FROM {view} ORDER BY ALL")
    return out


async def wait_loaded(settings) -> None:
    counts = "SELECT (SELECT count() FROM meter_values FINAL), (SELECT count() FROM sessions FINAL), " \
             "(SELECT count() FROM cdrs FINAL), (SELECT count() FROM ocpp_frames FINAL), " \
             "(SELECT count() FROM station_status FINAL), (SELECT count() FROM station_events FINAL)"
    await wait_for(settings, counts, [(30, 5, 5, 6, 5, 6)])


async def read_dlq(kafka_settings, count: int) -> list:
    consumer = AIOKafkaConsumer(kafka_settings.topics().dlq("analytics"), bootstrap_servers=kafka_settings.bootstrap,
                                auto_offset_reset="earliest", group_id=f"dlq-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(30):
            while len(got) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
    finally:
        await consumer.stop()
    return got


async def test_rows_equal_produced_and_replay_changes_nothing(start_sink, analytics_settings, kafka_settings):
    bad_evse = dataset.meter("CS9", 70000, dataset.at(9), 1.0)  # EVSE id beyond UInt16: refused
    await produce_dataset(kafka_settings, extra=[bad_evse])
    async with EventProducer(kafka_settings) as producer:  # undecodable bytes on a sink topic
        await producer.send_raw(kafka_settings.topics().name("meter-values"), b"CS1", b"{not json")
    first = await start_sink()
    await wait_loaded(analytics_settings)

    # rows equal what was produced
    produced = {str(e.event_id): e for e in dataset.meter_events()}
    rows = await query(analytics_settings, "SELECT toString(event_id), station_id, evse_id, measurand, value, "
                                           "occurred_at, unit FROM meter_values FINAL")
    assert {r[0] for r in rows} == set(produced)
    for event_id, station, evse, measurand, value, occurred, unit in rows:
        e = produced[event_id]
        assert (station, evse, measurand, value, unit) == (
            e.station_id, e.payload.evse_id, e.payload.measurand, e.payload.value, e.payload.unit)
        assert occurred.replace(tzinfo=None) == e.occurred_at.replace(tzinfo=None)
    sessions = await query(analytics_settings,
                           "SELECT session_id, version, status, kwh FROM sessions FINAL ORDER BY session_id")
    assert sessions == [("S1", 3, "COMPLETED", Decimal("20")), ("S2", 2, "COMPLETED", Decimal("6")),
                        ("S3", 1, "COMPLETED", Decimal("2")), ("S4", 1, "INVALID", Decimal("0")),
                        ("S5", 1, "COMPLETED", Decimal("4"))]
    cdrs = await query(analytics_settings, "SELECT cdr_id, tariff_ids, total_cost_excl_vat, credit FROM cdrs FINAL ORDER BY cdr_id")
    assert cdrs[0] == ("C1", ["T1"], Decimal("7.8"), False) and cdrs[2] == ("C2-CR", ["T1"], Decimal("-2.34"), True)
    errors = await query(analytics_settings, "SELECT error_code FROM ocpp_frames WHERE message_type = 4 ORDER BY error_code")
    assert errors == [("FormationViolation",), ("InternalError",), ("NotImplemented",)]
    types = await query(analytics_settings, "SELECT type, count() FROM station_events FINAL GROUP BY type ORDER BY type")
    assert types == [("station.booted", 2), ("station.connected", 2), ("station.disconnected", 2)]

    # what could not be stored is in dlq.analytics, with the reason
    letters = await read_dlq(kafka_settings, 2)
    reasons = {dict(r.headers)["dlq.reason"].decode(): r.value for r in letters}
    assert reasons["not_json"] == b"{not json"
    assert reasons["unmappable_row"] == encode(bad_evse)

    before = await snapshot(analytics_settings)
    assert before["energy_per_station_hour"]  # the views are populated
    # replay every topic from the start (a fresh consumer group), into the same store
    raw_before = (await query(analytics_settings, "SELECT count() FROM meter_values"))[0][0]
    await first.stop()
    await start_sink(group_id=f"replay-{uuid.uuid4().hex[:6]}")
    await wait_for(analytics_settings, "SELECT count() >= 60 FROM meter_values", [(True,)])  # replayed rows landed
    await wait_for(analytics_settings, "SELECT count() >= 10 FROM ocpp_frames", [(True,)])
    await asyncio.sleep(1.0)  # let the other tables' batches land too
    assert raw_before == 30
    after = await snapshot(analytics_settings)
    assert after == before


async def test_query_endpoint_is_read_only(start_sink, analytics_settings, kafka_settings):
    await produce_dataset(kafka_settings)
    await start_sink()
    await wait_loaded(analytics_settings)

    def attempts() -> dict[str, str]:
        client = http_client(analytics_settings)
        refused = {}
        try:
            assert client.query("SELECT count() FROM meter_values FINAL").result_rows == [(30,)]
            tries = {
                "insert": lambda: client.insert("meter_values", [["CSX"]], column_names=["station_id"]),
                "insert_sql": lambda: client.command("INSERT INTO meter_values (station_id) VALUES ('CSX')"),
                "ddl": lambda: client.command("CREATE TABLE evil (a UInt8) ENGINE = Memory"),
                "drop": lambda: client.command("DROP TABLE meter_values"),
                "file": lambda: client.query("SELECT * FROM file('/etc/passwd', 'LineAsString')"),
                "url": lambda: client.query("SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')"),
                "remote": lambda: client.query("SELECT * FROM remote('127.0.0.1:9000', system.one)"),
                "setting": lambda: client.query("SELECT 1 SETTINGS readonly = 0"),
            }
            for name, attempt in tries.items():
                try:
                    attempt()
                except DatabaseError as exc:
                    refused[name] = str(exc)
            assert client.query("SELECT count() FROM meter_values FINAL").result_rows == [(30,)]
            assert client.query("EXISTS TABLE evil").result_rows == [(0,)]
        finally:
            client.close()
        return refused

    refused = await asyncio.to_thread(attempts)
    assert set(refused) == {"insert", "insert_sql", "ddl", "drop", "file", "url", "remote", "setting"}
    for name, message in refused.items():
        assert "164" in message or "READONLY" in message, (name, message)

    # plain curl-style HTTP with a format, and the CLI's formats
    import httpx
    async with httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{analytics_settings.query_port}/"
        r = await http.get(base, params={"query": "SELECT station_id, count() FROM meter_values FINAL "
                                                  "GROUP BY station_id ORDER BY station_id FORMAT CSV",
                                         "database": analytics_settings.database})
        assert r.status_code == 200 and r.text == '"CS1",24\n"CS2",6\n'
        assert (await http.get(base + "ping")).text == "Ok.\n"
        r = await http.post(base, content=b"SELECT * FROM file('/etc/passwd')")
        assert r.status_code == 500 and r.headers["X-ClickHouse-Exception-Code"] == "164"


async def test_graceful_stop_flushes_and_commits(start_sink, analytics_settings, kafka_settings):
    """SIGTERM path: stop() inserts the batch in hand and commits, so a restart re-reads nothing."""
    analytics_settings.batch_wait_ms = 60_000  # only stop() can end this batch
    analytics_settings.batch_rows = 1_000_000
    svc = await start_sink()
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many(dataset.meter_events())
    await asyncio.sleep(2.0)
    assert (await query(analytics_settings, "SELECT count() FROM meter_values"))[0][0] == 0  # still batching
    await svc.stop()
    svc2 = await start_sink()
    await wait_for(analytics_settings, "SELECT count() FROM meter_values", [(30,)])
    await asyncio.sleep(1.0)
    assert (await query(analytics_settings, "SELECT count() FROM meter_values"))[0][0] == 30  # nothing re-read
    await svc2.stop()
