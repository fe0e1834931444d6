"""Settings of the billing service (env prefix VOLTSTREAM_BILLING_); Kafka comes from KafkaSettings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class BillingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_BILLING_", extra="ignore")

    health_host: str = "0.0.0.0"
    health_port: int = 9102  # DESIGN.md "Ports"
    catch_up_timeout_s: float = 300.0
    log_level: str = "INFO"
