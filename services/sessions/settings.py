"""Settings of the session service (env prefix VOLTSTREAM_SESSIONS_); Kafka comes from KafkaSettings."""

from __future__ import annotations

from enum import StrEnum

from pydantic_settings import BaseSettings, SettingsConfigDict


class RebootPolicy(StrEnum):
    CLOSE = "close"  # close the open session at its last fact before the boot (COMPLETED, billed)
    INVALID = "invalid"  # close it as INVALID (not billed)
    KEEP = "keep"  # leave it open, only flag it (for chargers that resume transactions)


class SessionsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_SESSIONS_", extra="ignore")

    app_id: str = "sessions"  # faust application id (consumer group), prefixed with the topic prefix
    web_host: str = "0.0.0.0"
    web_port: int = 6066
    data_dir: str = "./var/sessions"
    store: str = "memory://"  # or rocksdb:// (table is always backed by a changelog topic)
    # A COMPLETED session becomes final once nothing new arrived for this long (gateway clock).
    finality_grace_s: float = 900.0
    finality_check_interval_s: float = 1.0
    reboot_policy: RebootPolicy = RebootPolicy.CLOSE
    # A boot / remote start / auth decision relates to a session only within these windows.
    reboot_window_s: float = 48 * 3600.0
    remote_start_window_s: float = 300.0
    auth_window_s: float = 300.0
    # Station facts older than this (relative to the station's newest one) are pruned.
    station_memory_s: float = 72 * 3600.0
    # Used when the catalog does not know the EVSE / token.
    operator_country_code: str = "DE"
    operator_party_id: str = "VST"
    default_currency: str = "EUR"
    # Consumer group liveness: a killed worker's partitions move after this long.
    session_timeout_s: float = 30.0
    batch_max: int = 10000
    batch_within_s: float = 0.5
    log_level: str = "INFO"
