"""`voltstream cdr credit ID`: credit an issued CDR by hand, and bill its session again.

Reads `cdrs` to its end (the CDR as issued is the only source of truth for its credit: "The Credit
CDR will contain all the data of the original CDR") and refuses unknown, credit and already
credited CDRs. Unless `reissue=False` (`--no-reissue`), it also prices the session again, like an
amendment does: the session's latest final version from the compacted `sessions` topic, with the
catalog as it is now (a CatalogIndex read from the reference topics, as the service uses). The new
CDR gets `reissue_id(session id, version, credit id)`. Pricing comes first: a session that cannot
be priced (not on the topic, no applicable tariff, ...) is refused and nothing is issued; then the
credit and the new CDR are produced together (acks=all).

The running billing service follows `cdrs`, so it sees both: it never credits that CDR again, the
new CDR stands for the session (a later amendment credits it), and the version it was priced from
counts as billed (a re-delivery of it is skipped as `already_billed`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer
from libs.events.sessions import CdrIssued, CdrRecord, ChargingSession, SessionUpdated
from libs.tariffs.cdr import credit_cdr, reissue_id, reissued_cdr
from services.billing.app import cdr_event
from services.billing.ledger import CdrLedger
from services.billing.pricing import Pricer, Unbillable


class CreditRefused(Exception):
    pass


@dataclass(frozen=True)
class ManualCredit:
    credit: CdrRecord
    reissued: CdrRecord | None = None  # None with reissue=False


async def _read(kafka: KafkaSettings, topics: list[str], on_record, timeout: float) -> None:
    follower = TopicFollower(kafka, topics, on_record)
    await follower.start()
    try:
        await follower.wait_caught_up(timeout)
    finally:
        await follower.stop()


async def read_ledger(kafka: KafkaSettings, timeout: float = 60.0) -> CdrLedger:
    ledger = CdrLedger()

    def on_record(_t: str, _k: str, event: Event | None) -> None:
        if isinstance(event, CdrIssued):
            ledger.apply(event.payload)

    await _read(kafka, ["cdrs"], on_record, timeout)
    return ledger


async def latest_final_session(kafka: KafkaSettings, session_id: str, timeout: float = 60.0) -> ChargingSession | None:
    """The highest final version of `session_id` on `sessions` (keyed by session id), if any."""
    latest: ChargingSession | None = None

    def on_record(_t: str, key: str, event: Event | None) -> None:
        nonlocal latest
        if key != session_id:
            return
        if event is None:  # tombstone: the session left the topic
            latest = None
        elif isinstance(event, SessionUpdated) and event.payload.session_id == session_id and event.payload.final:
            if latest is None or event.payload.version > latest.version:
                latest = event.payload

    await _read(kafka, ["sessions"], on_record, timeout)
    return latest


async def read_catalog(kafka: KafkaSettings, timeout: float = 60.0) -> CatalogIndex:
    index = CatalogIndex()
    await index.follow(kafka)
    try:
        await index.wait_caught_up(timeout)
    finally:
        await index.stop()
    return index


async def _reissue(kafka: KafkaSettings, ledger: CdrLedger, original: CdrRecord, credit_id: str,
                   now: datetime, timeout: float) -> CdrRecord:
    """The session of `original` priced again (the new CDR), or CreditRefused: nothing issued."""
    sid = original.session_id
    entry = ledger.sessions.get(sid)
    if entry is not None and entry.version > original.session_version:
        raise CreditRefused(f"{original.cdr_id} is for version {original.session_version} of session {sid}, "
                            f"version {entry.version} was billed since; nothing issued "
                            "(--no-reissue for a credit only)")
    session, index = await asyncio.gather(latest_final_session(kafka, sid, timeout), read_catalog(kafka, timeout))
    if session is None or session.version < original.session_version:
        raise CreditRefused(f"session {sid} has no final version on the sessions topic to price again; "
                            "nothing issued (--no-reissue for a credit only)")
    try:
        cdr = Pricer(index).cdr(session)
    except Unbillable as exc:
        raise CreditRefused(f"session {sid} version {session.version} cannot be priced ({exc.reason}: "
                            f"{exc.detail[:300]}); nothing issued (--no-reissue for a credit only)") from exc
    new_id = reissue_id(sid, session.version, credit_id)
    return CdrRecord(cdr_id=new_id, session_id=sid, session_version=session.version,
                     cdr=reissued_cdr(cdr, new_id, now))


async def credit_by_hand(kafka: KafkaSettings, cdr_id: str, now: datetime | None = None, *,
                         reissue: bool = True, timeout: float = 60.0) -> ManualCredit:
    ledger = await read_ledger(kafka, timeout)
    original = ledger.cdrs.get(cdr_id)
    if original is None:
        raise CreditRefused(f"no CDR {cdr_id} on the cdrs topic")
    if original.credit:
        raise CreditRefused(f"{cdr_id} is a credit CDR")
    if cdr_id in ledger.credited:
        raise CreditRefused(f"{cdr_id} is already credited")
    now = now or datetime.now(UTC)
    credit = credit_cdr(original.cdr, now)
    record = CdrRecord(
        cdr_id=credit["id"], session_id=original.session_id, session_version=original.session_version,
        credit=True, credit_reference_id=cdr_id, cdr=credit,
    )
    new = await _reissue(kafka, ledger, original, record.cdr_id, now, timeout) if reissue else None
    records = [record] if new is None else [record, new]
    async with EventProducer(kafka, client_id="cdr-credit") as producer:
        await producer.send_many([cdr_event(r) for r in records])
    return ManualCredit(credit=record, reissued=new)
