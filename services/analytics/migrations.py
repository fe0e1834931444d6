"""Versioned schema migrations (deploy/clickhouse/NNNN_name.sql), applied idempotently.

Each file is applied once and recorded in `<db>.schema_migrations` with its checksum. Statements
use IF NOT EXISTS, so a migration interrupted half-way is simply applied again. Running the
runner twice (service start, `voltstream analytics migrate`, the Helm job) is a no-op.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import structlog
from clickhouse_connect.driver.client import Client

log = structlog.get_logger("migrations")

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str  # rendered

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in text.split(";") if s.strip()]


def load_migrations(directory: Path, values: dict[str, str]) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        sql = path.read_text()
        for key, value in values.items():
            sql = sql.replace("{" + key + "}", value)
        found.append(Migration(int(match[1]), match[2], sql))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return found


def applied_migrations(client: Client, db: str) -> dict[int, str]:
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    rows = client.query(f"SELECT version, checksum FROM {db}.schema_migrations FINAL").result_rows
    return {int(v): c for v, c in rows}


def migrate(client: Client, directory: Path, values: dict[str, str]) -> list[Migration]:
    """Apply pending migrations in order; returns those applied now (empty when up to date)."""
    db = values["db"]
    done = applied_migrations(client, db)
    applied = []
    for migration in load_migrations(directory, values):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                # settings such as TTLs are rendered into the SQL; a changed file is not re-run
                log.warning("migration_changed_after_apply", version=migration.version, name=migration.name)
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert(
            f"{db}.schema_migrations", [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("migration_applied", version=migration.version, name=migration.name)
        applied.append(migration)
    return applied
