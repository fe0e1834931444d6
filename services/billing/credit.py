"""`voltstream cdr credit ID`: credit an issued CDR by hand.

Reads `cdrs` to its end (the CDR as issued is the only source of truth for its credit: "The Credit
CDR will contain all the data of the original CDR"), refuses unknown, credit and already
credited CDRs, and issues the credit CDR. The running billing service follows `cdrs`, so it sees
the credit and never credits that CDR again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer
from libs.events.sessions import CdrIssued, CdrRecord
from libs.tariffs.cdr import credit_cdr
from services.billing.app import cdr_event
from services.billing.ledger import CdrLedger


class CreditRefused(Exception):
    pass


async def read_ledger(kafka: KafkaSettings, timeout: float = 60.0) -> CdrLedger:
    ledger = CdrLedger()

    def on_record(_t: str, _k: str, event: Event | None) -> None:
        if isinstance(event, CdrIssued):
            ledger.apply(event.payload)

    follower = TopicFollower(kafka, ["cdrs"], on_record)
    await follower.start()
    try:
        await follower.wait_caught_up(timeout)
    finally:
        await follower.stop()
    return ledger


async def credit_by_hand(kafka: KafkaSettings, cdr_id: str, now: datetime | None = None) -> CdrRecord:
    ledger = await read_ledger(kafka)
    original = ledger.cdrs.get(cdr_id)
    if original is None:
        raise CreditRefused(f"no CDR {cdr_id} on the cdrs topic")
    if original.credit:
        raise CreditRefused(f"{cdr_id} is a credit CDR")
    if cdr_id in ledger.credited:
        raise CreditRefused(f"{cdr_id} is already credited")
    credit = credit_cdr(original.cdr, now or datetime.now(UTC))
    record = CdrRecord(
        cdr_id=credit["id"], session_id=original.session_id, session_version=original.session_version,
        credit=True, credit_reference_id=cdr_id, cdr=credit,
    )
    async with EventProducer(kafka, client_id="cdr-credit") as producer:
        await producer.send(cdr_event(record))
    return record
