"""Analytics settings (env prefix VOLTSTREAM_ANALYTICS_); Kafka comes from KafkaSettings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic_settings import BaseSettings, SettingsConfigDict


class AnalyticsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_ANALYTICS_", extra="ignore")

    log_level: str = "INFO"
    # The embedded engine (chdb:///path) or a ClickHouse server DSN (http(s)://user:pass@host:8123).
    clickhouse_dsn: str = "chdb:///" + str(Path("var/analytics/chdb").absolute()).lstrip("/")
    # A ClickHouse server given as URL + user + password (Helm passes the password from a Secret);
    # when clickhouse_url is set it wins over clickhouse_dsn.
    clickhouse_url: str | None = None
    clickhouse_username: str | None = None
    clickhouse_password: str | None = None
    database: str = "voltstream"
    migrations_dir: Path = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
    meter_ttl_days: int = 730
    frames_ttl_days: int = 14
    # batching: insert when this many rows are buffered, or this long after the first one
    batch_rows: int = 50_000
    batch_wait_ms: int = 1_000
    health_host: str = "0.0.0.0"
    health_port: int = 9103
    # read-only ClickHouse-HTTP endpoint (embedded mode); a ClickHouse server is queried directly
    query_host: str = "127.0.0.1"
    query_port: int = 8124
    query_endpoint: bool | None = None  # default: on for chdb, off for a server
    query_max_execution_s: int = 60

    @property
    def dsn(self) -> str:
        """The DSN clickhouse-connect opens: the server URL with its credentials, or clickhouse_dsn."""
        if not self.clickhouse_url:
            return self.clickhouse_dsn
        parts = urlsplit(self.clickhouse_url)
        user = quote(self.clickhouse_username or parts.username or "default", safe="")
        password = self.clickhouse_password if self.clickhouse_password is not None else (parts.password or "")
        netloc = f"{user}:{quote(password, safe='')}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb:")

    @property
    def serve_queries(self) -> bool:
        return self.embedded if self.query_endpoint is None else self.query_endpoint

    def template_values(self) -> dict[str, str]:
        return {
            "db": self.database,
            "meter_ttl_days": str(int(self.meter_ttl_days)),
            "frames_ttl_days": str(int(self.frames_ttl_days)),
        }
