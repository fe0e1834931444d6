"""`voltstream topics apply`: create missing topics and bring configs in line, idempotently."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from libs.events.bus import KafkaSettings


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # created, configured, partitions_added, unchanged
    detail: str = ""


async def apply_topics(settings: KafkaSettings) -> list[TopicChange]:
    wanted = settings.topics().all()
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        to_create = [
            NewTopic(name, partitions, settings.replication_factor, topic_configs=cfg)
            for name, partitions, cfg in wanted
            if name not in existing
        ]
        changes = [TopicChange(t.name, "created") for t in to_create]
        if to_create:
            await admin.create_topics(to_create)
            await _wait_visible(admin, {t.name: t.num_partitions for t in to_create})
        present = [(n, p, c) for n, p, c in wanted if n in existing]
        if present:
            changes += await _reconcile(admin, present)
        return changes
    finally:
        await admin.close()


async def _wait_visible(admin: AIOKafkaAdminClient, wanted: dict[str, int], timeout: float = 30.0) -> None:
    """Creation is asynchronous in Kafka: return once every new topic has a leader per partition."""
    async with asyncio.timeout(timeout):
        while True:
            described = await admin.describe_topics(list(wanted))
            have = {
                d["topic"]: len(d["partitions"])
                for d in described
                if not d.get("error_code") and all(p.get("leader", -1) >= 0 for p in d["partitions"])
            }
            if all(have.get(name) == count for name, count in wanted.items()):
                return
            await asyncio.sleep(0.1)


async def _reconcile(admin: AIOKafkaAdminClient, present: list[tuple[str, int, dict[str, str]]]) -> list[TopicChange]:
    changes: list[TopicChange] = []
    actual_configs = await read_topic_configs(admin, [n for n, _, _ in present])
    described = await admin.describe_topics([n for n, _, _ in present])
    actual_partitions = {d["topic"]: len(d["partitions"]) for d in described}
    for name, partitions, cfg in present:
        drift = {k: v for k, v in cfg.items() if actual_configs.get(name, {}).get(k) != v}
        if drift:
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=cfg)])
            changes.append(TopicChange(name, "configured", ", ".join(f"{k}={v}" for k, v in drift.items())))
        have = actual_partitions.get(name, partitions)
        if have < partitions:
            await admin.create_partitions({name: NewPartitions(total_count=partitions)})
            changes.append(TopicChange(name, "partitions_added", f"{have} -> {partitions}"))
        elif have > partitions:
            # Kafka cannot shrink a topic; co-partitioning would break silently, so say it loudly.
            changes.append(TopicChange(name, "unchanged", f"has {have} partitions, registry wants {partitions}"))
        if not drift and have == partitions:
            changes.append(TopicChange(name, "unchanged"))
    return changes


async def read_topic_configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    )
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            # (error_code, error_message, resource_type, resource_name, config_entries)
            name, entries = resource[3], resource[4]
            out[name] = {entry[0]: entry[1] for entry in entries}
    return out
