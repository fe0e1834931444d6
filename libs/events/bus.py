"""Kafka connection settings shared by every service (env prefix VOLTSTREAM_KAFKA_)."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiokafka.errors import NotLeaderForPartitionError
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.events.topics import Topics


def _retried_fetch_offsets_is_debug(record: logging.LogRecord) -> bool:
    """aiokafka logs "Failed fetch offsets" at ERROR and retries; right after topics are created the
    broker is briefly not the leader it will be, which is no error for anyone reading our logs."""
    args = record.args if isinstance(record.args, tuple) else ()
    if record.msg == "Failed fetch offsets from %s: %s" and any(
            isinstance(a, NotLeaderForPartitionError) for a in args):
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
    return True


logging.getLogger("aiokafka.consumer.fetcher").addFilter(_retried_fetch_offsets_is_debug)


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_KAFKA_", extra="ignore")

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = "voltstream."
    station_partitions: int = 6
    other_partitions: int = 3
    replication_factor: int = 1
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    sasl_mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def topics(self) -> Topics:
        return Topics(
            prefix=self.topic_prefix,
            station_partitions=self.station_partitions,
            other_partitions=self.other_partitions,
            replication_factor=self.replication_factor,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments common to aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if "SSL" in self.security_protocol:
            ctx = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                ctx.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            kwargs["ssl_context"] = ctx
        if self.security_protocol.startswith("SASL"):
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism or "PLAIN",
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return kwargs
