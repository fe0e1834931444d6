"""Versioned migrations on the real engine (chdb): applied in order, twice is a no-op."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
import pytest

from services.analytics.migrations import MigrationError, load_migrations, migrate
from services.analytics.settings import AnalyticsSettings

MIGRATIONS = AnalyticsSettings().migrations_dir


@pytest.fixture
def client(tmp_path_factory):
    # one chdb engine per process: reuse the integration tests' store path when present
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path_factory.getbasetemp() / 'chdb-store'}")
    yield client
    client.close()


def schema(client, db: str) -> dict[str, str]:
    rows = client.query(f"SELECT name, create_table_query FROM system.tables WHERE database = '{db}' "
                        "AND name != 'schema_migrations'").result_rows
    return dict(rows)


def test_migrations_applied_twice_are_a_no_op(client):
    values = {"db": "unit_migrations", "meter_ttl_days": "30", "frames_ttl_days": "3"}
    first = migrate(client, MIGRATIONS, values)
    assert [m.version for m in first] == [1, 2]
    before = schema(client, "unit_migrations")
    assert {"meter_values", "sessions", "cdrs", "station_status", "station_events", "ocpp_frames",
            "energy_hourly_mv", "evse_occupancy_daily_mv", "status_changes_daily_mv", "time_per_status"} <= set(before)
    assert "toIntervalDay(30)" in before["meter_values"] and "toIntervalDay(3)" in before["ocpp_frames"]
    assert "LowCardinality" in before["meter_values"] and "toYYYYMM(occurred_at)" in before["meter_values"]

    assert migrate(client, MIGRATIONS, values) == []
    assert schema(client, "unit_migrations") == before
    assert client.query("SELECT version FROM unit_migrations.schema_migrations FINAL ORDER BY version").result_rows \
        == [(1,), (2,)]


def test_a_misnamed_migration_file_is_refused(tmp_path: Path):
    (tmp_path / "0001_ok.sql").write_text("SELECT 1")
    (tmp_path / "two.sql").write_text("SELECT 2")
    with pytest.raises(MigrationError):
        load_migrations(tmp_path, {"db": "x"})


def test_statements_skip_comments_and_render_placeholders(tmp_path: Path):
    (tmp_path / "0001_a.sql").write_text("-- a comment; with a semicolon\nCREATE TABLE {db}.t (a UInt8) ENGINE = Memory;\n"
                                         "CREATE VIEW {db}.v AS SELECT 1;\n")
    [migration] = load_migrations(tmp_path, {"db": "d1"})
    assert migration.statements() == ["CREATE TABLE d1.t (a UInt8) ENGINE = Memory", "CREATE VIEW d1.v AS SELECT 1"]
