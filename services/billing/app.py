"""Billing service wiring: sessions -> CDRs.

Start: producer, health server, follow the catalog topics and `cdrs` (the ledger of what was
issued); once both are read to their end (/readyz), consume `sessions` in a consumer group.
Per final session version: skip if a CDR was issued for it or a newer version (stale); else
credit the standing CDR of an earlier version (amendment) and issue the new CDR. Unbillable
sessions are `Rejected` (dlq.billing with the reason, counted). Offsets are committed only
after the CDRs are acknowledged by Kafka.
"""

from __future__ import annotations

import asyncio

import structlog

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.consumer import Delivery, EventConsumer, Rejected
from libs.events.envelope import Event, Source
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer
from libs.events.sessions import CdrIssued, CdrRecord, SessionUpdated
from libs.service.health import HealthServer
from libs.tariffs.cdr import credit_cdr
from services.billing.ledger import CdrLedger
from services.billing.metrics import CDRS_ISSUED, SESSIONS_REJECTED, SESSIONS_SKIPPED
from services.billing.pricing import Pricer, Unbillable
from services.billing.settings import BillingSettings

log = structlog.get_logger("billing")


def cdr_event(record: CdrRecord) -> CdrIssued:
    return CdrIssued.create(payload=record, source=Source.BILLING)


class BillingService:
    name = "billing"

    def __init__(self, kafka: KafkaSettings | None = None, settings: BillingSettings | None = None):
        self.kafka = kafka or KafkaSettings()
        self.settings = settings or BillingSettings()
        self.index = CatalogIndex()
        self.ledger = CdrLedger()
        self.pricer = Pricer(self.index)
        self.producer = EventProducer(self.kafka, client_id="billing")
        self.cdrs = TopicFollower(self.kafka, ["cdrs"], self._on_cdr)
        self.health = HealthServer(self.settings.health_host, self.settings.health_port)
        self.health.add_check("catalog", lambda: self.index.caught_up)
        self.health.add_check("cdrs", lambda: self.cdrs.caught_up.is_set())
        self.consumer: EventConsumer | None = None
        self._task: asyncio.Task | None = None

    def _on_cdr(self, _topic: str, _key: str, event: Event | None) -> None:
        if isinstance(event, CdrIssued):
            self.ledger.apply(event.payload)

    async def start(self) -> None:
        await self.producer.start()
        await self.health.start()
        await self.index.follow(self.kafka)
        await self.cdrs.start()
        self._task = asyncio.create_task(self._run(), name="billing")

    async def _run(self) -> None:
        await self.index.wait_caught_up(self.settings.catch_up_timeout_s)
        await self.cdrs.wait_caught_up(self.settings.catch_up_timeout_s)
        log.info("billing_ready", sessions_known=len(self.ledger.sessions))
        self.consumer = EventConsumer(
            self.kafka, service="billing", topics=["sessions"], handler=self.handle, producer=self.producer
        )
        await self.consumer.start()
        await self.consumer.run()

    async def handle(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            event = d.event
            if not isinstance(event, SessionUpdated):
                continue  # tombstones of the compacted topic
            s = event.payload
            if not s.final:
                SESSIONS_SKIPPED.labels("not_final").inc()
                continue
            plan = self.ledger.plan(s.session_id, s.version)
            if not plan.issue:
                SESSIONS_SKIPPED.labels(plan.why).inc()
                continue
            try:
                cdr = self.pricer.cdr(s)
            except Unbillable as exc:
                SESSIONS_REJECTED.labels(exc.reason).inc()
                log.warning("session_unbillable", session_id=s.session_id, version=s.version,
                            reason=exc.reason, detail=exc.detail[:300])
                raise Rejected(d, exc.reason, exc.detail) from exc
            if plan.credit is not None and same_bill(plan.credit.cdr, cdr):
                SESSIONS_SKIPPED.labels("unchanged").inc()  # a new version that bills the same
                continue
            records: list[CdrRecord] = []
            if plan.credit is not None and plan.credit.cdr_id not in self.ledger.credited:
                credit = credit_cdr(plan.credit.cdr, s.last_updated)
                records.append(CdrRecord(
                    cdr_id=credit["id"], session_id=s.session_id, session_version=s.version, credit=True,
                    credit_reference_id=plan.credit.cdr_id, cdr=credit,
                ))
            records.append(CdrRecord(cdr_id=cdr["id"], session_id=s.session_id, session_version=s.version, cdr=cdr))
            await self.producer.send_many([cdr_event(r) for r in records])
            for r in records:
                self.ledger.apply(r)
                CDRS_ISSUED.labels("credit" if r.credit else "cdr").inc()
                log.info("cdr_issued", cdr_id=r.cdr_id, session_id=r.session_id, version=r.session_version,
                         credit=r.credit, total_cost=r.cdr["total_cost"])

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()  # run() finishes the batch in hand, commits, closes
        if self._task is not None and self.consumer is None:
            self._task.cancel()  # still catching up: nothing consumed, nothing to drain
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30)
            except (asyncio.CancelledError, TimeoutError):
                self._task.cancel()
            except Exception as exc:  # noqa: BLE001 - shutting down; logged, not raised
                log.warning("billing_task_failed", error=repr(exc))
        await self.cdrs.stop()
        await self.index.stop()
        await self.producer.stop()
        await self.health.stop()


# What a new CDR for the same session may differ in without billing anything different.
_IDENTITY_FIELDS = frozenset({"id", "last_updated"})


def same_bill(standing: dict, new: dict) -> bool:
    """Whether a CDR priced from a newer session version bills exactly what the standing one does
    (a version that only counts a fact changing nothing, e.g. a boot after the session's end):
    then there is nothing to credit and nothing to re-issue."""
    return {k: v for k, v in standing.items() if k not in _IDENTITY_FIELDS} == \
        {k: v for k, v in new.items() if k not in _IDENTITY_FIELDS}
