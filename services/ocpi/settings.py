"""Settings of the OCPI adapter (env prefix VOLTSTREAM_OCPI_)."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OcpiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_OCPI_", extra="ignore")

    log_level: str = "INFO"

    host: str = "0.0.0.0"
    port: int = 8080
    # Public base URL partners use to reach this API (behind a proxy it differs from host:port).
    public_url: str = "http://127.0.0.1:8080"
    # SQLite file by default; PostgreSQL in production: postgresql+asyncpg://user:pw@host/db
    database_url: str = "sqlite+aiosqlite:///./ocpi.db"
    replicas: int = 1
    # Our own party (the CPO) as told to partners in the credentials exchange.
    country_code: str = "DE"
    party_id: str = "VST"
    business_name: str = "voltstream"
    business_website: str | None = None
    currency: str = "EUR"  # for sessions whose catalog entry names none
    # Pagination: the most objects one page returns (X-Limit) and the default page size.
    max_page_limit: int = 100
    # Push: backoff between retries of one object towards one partner, doubling per attempt.
    push_enabled: bool = True
    push_interval_s: float = 0.2
    push_backoff_min_s: float = 0.5
    push_backoff_max_s: float = 60.0
    push_timeout_s: float = 10.0
    # The gateway's station-presence lease check runs this often (offline stations → UNKNOWN).
    presence_sweep_s: float = 2.0
    consumer_group: str | None = None
    # Receiver side (docs/ocpi-receiver.md): the CommandResponse `timeout` (seconds) within which
    # the CommandResult is POSTed; the partner (name or id) asked in real time about uids nobody
    # pushed (besides a hub partner); whether this service answers the gateway's auth-requests.
    command_timeout_s: int = 60
    default_emsp: str | None = None
    realtime_auth: bool = True

    @model_validator(mode="after")
    def _replicas_need_postgres(self) -> OcpiSettings:
        # SQLite is one file on one host: two replicas would each hold their own read model and
        # push twice. Several replicas share one PostgreSQL database.
        if self.replicas > 1 and not self.database_url.startswith("postgresql"):
            raise ValueError("replicas > 1 needs a PostgreSQL database_url (SQLite is single-replica)")
        if self.replicas < 1:
            raise ValueError("replicas must be at least 1")
        if self.max_page_limit < 1:
            raise ValueError("max_page_limit must be at least 1")
        return self

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") + "/ocpi"
