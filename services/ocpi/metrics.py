"""Prometheus metrics of one OCPI adapter instance (own registry: several apps per process in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class OcpiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ocpi_requests_total", "OCPI API requests", ["module", "status"], registry=r)
        self.latency = Histogram("ocpi_request_seconds", "OCPI API latency", ["module"], registry=r)
        self.events = Counter("ocpi_events_total", "events applied to the read model", ["type", "outcome"], registry=r)
        self.pending = Gauge("ocpi_push_pending", "changes waiting for delivery", ["partner"], registry=r)
        self.failing = Gauge("ocpi_push_failing_objects", "objects whose head change is being retried", ["partner"], registry=r)
        self.delivered = Counter("ocpi_push_delivered_total", "changes delivered", ["partner", "module"], registry=r)
        self.skipped = Counter("ocpi_push_superseded_total", "changes skipped as older than delivered", ["partner", "module"], registry=r)
        self.failures = Counter("ocpi_push_failures_total", "failed delivery attempts", ["partner", "module"], registry=r)
        self.last_success = Gauge("ocpi_push_last_success_timestamp", "unix time of the last delivery", ["partner"], registry=r)
