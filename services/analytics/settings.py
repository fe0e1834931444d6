"""Analytics settings (env prefix VOLTSTREAM_ANALYTICS_); Kafka comes from KafkaSettings."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class AnalyticsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_ANALYTICS_", extra="ignore")

    # A ClickHouse server (http(s)://user:pass@host:8123) or the embedded engine (chdb:///path).
    clickhouse_dsn: str = "chdb:///" + str(Path("var/analytics/chdb").absolute()).lstrip("/")
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
    def embedded(self) -> bool:
        return self.clickhouse_dsn.startswith("chdb:")

    @property
    def serve_queries(self) -> bool:
        return self.embedded if self.query_endpoint is None else self.query_endpoint

    def template_values(self) -> dict[str, str]:
        return {
            "db": self.database,
            "meter_ttl_days": str(int(self.meter_ttl_days)),
            "frames_ttl_days": str(int(self.frames_ttl_days)),
        }
