"""Dead-letter queue: what a service could not process, with the reason and original bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from libs.events.producer import EventProducer

log = structlog.get_logger("dlq")

DEAD_LETTERS = Counter(
    "voltstream_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "reason"]
)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    error: str


class DeadLetters:
    def __init__(self, producer: EventProducer, service: str):
        self.producer = producer
        self.service = service
        self.topic = producer.topics.dlq(service)

    async def send(self, letter: DeadLetter) -> None:
        headers = [
            ("dlq.reason", letter.reason.encode()),
            ("dlq.error", letter.error[:2000].encode()),
            ("dlq.topic", letter.topic.encode()),
            ("dlq.partition", str(letter.partition).encode()),
            ("dlq.offset", str(letter.offset).encode()),
            ("dlq.service", self.service.encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer.send_raw(self.topic, letter.key, letter.value, headers)
        DEAD_LETTERS.labels(self.service, letter.reason).inc()
        log.warning(
            "dead_letter", service=self.service, reason=letter.reason, error=letter.error[:300],
            topic=letter.topic, partition=letter.partition, offset=letter.offset,
        )
