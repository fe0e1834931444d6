"""Topic registry (DESIGN.md "Topics"): names, keys, partitions, cleanup policy, retention.

Station-keyed topics share one partition count so the faust app can join them (co-partitioning);
the registry refuses a configuration that breaks this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    base: str  # name without prefix
    key: str  # what the Kafka key is
    compacted: bool = False
    retention_ms: int | None = None  # None = broker default; -1 = forever
    station_keyed: bool = False
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        if self.compacted:
            # keep tombstones long enough for a restarted index to see removals
            cfg["delete.retention.ms"] = str(DAY_MS)
            cfg["min.compaction.lag.ms"] = "0"
        cfg.update(self.extra_config)
        return cfg


SPECS: tuple[TopicSpec, ...] = (
    TopicSpec("station-events", "station_id", retention_ms=30 * DAY_MS, station_keyed=True),
    TopicSpec("station-presence", "station_id", compacted=True, station_keyed=True),
    TopicSpec("gateway-instances", "instance_id", compacted=True),
    TopicSpec("transaction-events", "station_id", retention_ms=30 * DAY_MS, station_keyed=True),
    # the gateway's view: the EVSE of each station's current transactions, for every replica
    TopicSpec("transaction-evses", "station_id/transaction_ref", compacted=True),
    TopicSpec("meter-values", "station_id", retention_ms=7 * DAY_MS, station_keyed=True),
    TopicSpec("ocpp-frames", "station_id", retention_ms=3 * DAY_MS, station_keyed=True),
    TopicSpec("auth-requests", "request_id", retention_ms=DAY_MS),
    TopicSpec("auth-responses", "request_id", retention_ms=DAY_MS),
    TopicSpec("commands", "station_id", retention_ms=DAY_MS, station_keyed=True),
    TopicSpec("command-results", "command_id", retention_ms=DAY_MS),
    TopicSpec("sessions", "session_id", compacted=True),
    TopicSpec("cdrs", "cdr_id", compacted=True),
    TopicSpec("locations", "object id", compacted=True),
    TopicSpec("tariffs", "object id", compacted=True),
    TopicSpec("tokens", "country/party/uid/type", compacted=True),
    TopicSpec("station-credentials", "station_id/owner", compacted=True),
)

SERVICES = ("gateway", "sessions", "billing", "ocpi", "analytics")
DLQ_RETENTION_MS = 30 * DAY_MS


class TopicRegistryError(ValueError):
    pass


@dataclass(frozen=True)
class Topics:
    """Resolved topic names and partition counts for one deployment (one prefix)."""

    prefix: str = "voltstream."
    station_partitions: int = 6
    other_partitions: int = 3
    replication_factor: int = 1
    partition_overrides: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        station_counts = {
            self.partitions(spec.base) for spec in SPECS if spec.station_keyed
        }
        if len(station_counts) != 1:
            raise TopicRegistryError(
                f"station-keyed topics must share one partition count (co-partitioning), got {station_counts}"
            )
        unknown = set(self.partition_overrides) - {s.base for s in SPECS}
        if unknown:
            raise TopicRegistryError(f"partition override for unknown topics: {sorted(unknown)}")

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def dlq(self, service: str) -> str:
        return f"{self.prefix}dlq.{service}"

    def spec(self, base: str) -> TopicSpec:
        for spec in SPECS:
            if spec.base == base:
                return spec
        raise KeyError(base)

    def partitions(self, base: str) -> int:
        if base in self.partition_overrides:
            return self.partition_overrides[base]
        if base.startswith("dlq."):
            return 1
        return self.station_partitions if self.spec(base).station_keyed else self.other_partitions

    def all(self) -> list[tuple[str, int, dict[str, str]]]:
        """(full name, partitions, config) of every topic including the DLQs."""
        out = [(self.name(s.base), self.partitions(s.base), s.config()) for s in SPECS]
        out += [
            (self.dlq(svc), 1, {"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS)})
            for svc in SERVICES
        ]
        return out
