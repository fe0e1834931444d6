"""Prometheus metrics of the gateway (exposed on /metrics by libs.service.health)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("voltstream_gateway_connections", "Open charger connections", ["protocol"])
CONNECTS = Counter("voltstream_gateway_connects_total", "Accepted WebSocket upgrades", ["protocol"])
HANDSHAKE_REFUSED = Counter("voltstream_gateway_handshake_refused_total", "Refused upgrades", ["reason"])
DISCONNECTS = Counter("voltstream_gateway_disconnects_total", "Closed connections", ["reason"])
MESSAGES = Counter("voltstream_gateway_messages_total", "OCPP CALLs received", ["protocol", "action"])
CALL_ERRORS = Counter("voltstream_gateway_call_errors_total", "CALLERRORs sent", ["protocol", "code"])
LATENCY = Histogram(
    "voltstream_gateway_call_seconds", "CALL received -> answer sent (incl. Kafka ack)", ["action"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SPOOL_EVENTS = Gauge("voltstream_gateway_spool_events", "Events waiting in the local spool")
SPOOL_BYTES = Gauge("voltstream_gateway_spool_bytes", "Bytes waiting in the local spool")
SPOOL_FULL = Counter("voltstream_gateway_spool_full_total", "CALLs refused because the spool was full (alert)")
KAFKA_AVAILABLE = Gauge("voltstream_gateway_kafka_available", "1 while events go straight to Kafka")
FRAMES_DROPPED = Counter("voltstream_gateway_frames_dropped_total", "ocpp-frames records dropped (tap queue full)")
EVENTS = Counter("voltstream_gateway_events_total", "Events produced (Kafka or spool)", ["type"])
EVENTS_SPOOLED = Counter("voltstream_gateway_events_spooled_total", "Events that went to the local spool (Kafka slow or down)")


class Children:
    """A labelled metric's children by label values. `metric.labels(...)` takes a lock and
    builds a key on every call; the answer path needs several per CALL, always from a handful of
    values, so the children are kept here (prometheus keeps every child anyway)."""

    def __init__(self, metric: Any):
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


MESSAGES_BY = Children(MESSAGES)
CALL_ERRORS_BY = Children(CALL_ERRORS)
LATENCY_BY = Children(LATENCY)
EVENTS_BY = Children(EVENTS)
