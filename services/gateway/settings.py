"""Gateway settings (env prefix VOLTSTREAM_GATEWAY_); Kafka comes from KafkaSettings."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOLTSTREAM_GATEWAY_", extra="ignore")

    log_level: str = "INFO"
    host: str = "0.0.0.0"
    port: int = 9000
    health_host: str = "0.0.0.0"
    health_port: int = 9101
    instance_id: str = f"gw-{socket.gethostname()}"
    spool_dir: Path = Path("var/gateway/spool")  # the instance id is appended
    spool_max_bytes: int = 512 * 1024 * 1024
    kafka_ack_timeout: float = 3.0  # beyond this an event goes to the spool instead

    # authentication (security profiles 1-3)
    auth: bool = True
    unknown_station_boot: Literal["Pending", "Rejected"] = "Rejected"  # auth off, station not in catalog
    tls_certfile: str | None = None  # TLS terminated in-process (profile 2/3)
    tls_keyfile: str | None = None
    tls_client_ca: str | None = None  # CA for client certificates (profile 3)
    tls_crl_file: str | None = None  # revoked client certificates (PEM), re-read when it changes
    tls_crl_reload_seconds: float = 60.0  # how often the CRL file is checked for changes
    client_cert_subject_header: str | None = None  # trusted proxy: e.g. X-SSL-Client-S-DN
    client_cert_verify_header: str = "X-SSL-Client-Verify"  # must say SUCCESS
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]  # addresses or CIDR networks of the TLS proxies
    certificate_organization: str | None = None  # O a station certificate must carry (the operator)

    # protocol limits
    heartbeat_interval: int = 300
    heartbeat_grace: float = 2.5  # close a connection silent for grace × interval (heartbeat_missed)
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 30.0
    max_frame_bytes: int = 64 * 1024  # application limit: above it a CALLERROR
    max_transport_bytes: int = 1024 * 1024  # transport limit: above it close 1009
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 60
    call_timeout: float = 30.0  # gateway -> charger CALLs (commands)

    # remote management (services/gateway/commands, docs/remote-management.md)
    command_result_margin: float = 1.0  # a command's charger timeout ends this long before expires_at
    local_list_sync: bool = True  # keep held stations' local authorisation lists in sync with tokens
    local_list_interval: float = 30.0  # seconds between reconcile rounds
    local_list_default_max_entries: int = 1000  # when a station does not report its capacity
    local_list_default_per_message: int = 100  # when a station does not report items per message

    # real-time authorisation with eMSPs (services/gateway/realtime.py, docs/ocpi-receiver.md)
    realtime_auth: bool = False  # ask via auth-requests / auth-responses (the OCPI adapter answers)
    realtime_auth_timeout: float = 5.0  # bounded wait, well inside a charger's own call timeout
    realtime_for_allowed: bool = False  # also ask for whitelist ALLOWED tokens (else the index decides)
    remote_start_window: float = 900.0  # a remote-started token is accepted at that station this long

    drain_seconds: float = 10.0  # SIGTERM: spread closing connections over this time
