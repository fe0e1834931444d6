"""Delivery of changes to each registered partner's Receiver endpoints.

One ordered queue per (partner, module, object): only its oldest pending change is attempted,
so a partner sees every object's changes in order; a failure retries that head with doubling
backoff and never blocks other objects. Rules:
- PUT before PATCH: the first delivery of a location, session or tariff is a PUT of the
  current full object, which supersedes every queued change not newer than it.
- Never an older state over a newer one: a change whose last_updated is not newer than what the
  partner already has is skipped (superseded).
- CDRs are POSTed once. Nothing is dropped while a partner is down: the queue waits in the DB.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import orjson
import structlog
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ocpi.client import OcpiClient
from services.ocpi.db import (
    Delivered,
    LocationRow,
    OutboxRow,
    Partner,
    SessionRow,
    TariffRow,
    aware,
    now_naive,
)
from services.ocpi.metrics import OcpiMetrics
from services.ocpi.partners import receiver_url
from services.ocpi.settings import OcpiSettings

log = structlog.get_logger("ocpi.push")

CLAIM_BATCH = 500  # heads claimed per round
PARALLEL = 8  # concurrent deliveries per partner

# module → (table, key column) of the read model, for "PUT the current full object".
_CURRENT = {
    "locations": (LocationRow, LocationRow.key),
    "sessions": (SessionRow, None),
    "tariffs": (TariffRow, TariffRow.key),
}


def _parse_lu(doc: dict) -> datetime:
    return datetime.fromisoformat(doc["last_updated"].replace("Z", "+00:00")).replace(tzinfo=None)


async def enqueue(db: AsyncSession, partner_ids: list[int], *, module: str, object_key: str, kind: str,
                  body: dict | None, last_updated: datetime, sub_key: str | None = None) -> None:
    if not partner_ids:
        return
    raw = orjson.dumps(body).decode() if body is not None else "null"
    db.add_all([
        OutboxRow(partner_id=pid, module=module, object_key=object_key, kind=kind, sub_key=sub_key,
                  body=raw, last_updated=last_updated, next_attempt_at=now_naive())
        for pid in partner_ids
    ])


def due_heads(now: datetime):
    """The oldest pending change of every (partner, module, object) queue that is due, locked
    for claiming; rows another transaction holds are skipped (PostgreSQL), not waited for."""
    heads = select(func.min(OutboxRow.seq)).where(OutboxRow.state == "pending").group_by(
        OutboxRow.partner_id, OutboxRow.module, OutboxRow.object_key)
    return (select(OutboxRow).where(OutboxRow.seq.in_(heads), OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.seq).limit(CLAIM_BATCH).with_for_update(skip_locked=True))


class Pusher:
    def __init__(self, sm, settings: OcpiSettings, client: OcpiClient, metrics: OcpiMetrics):
        self.sm = sm
        self.settings = settings
        self.client = client
        self.metrics = metrics
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ocpi-push")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a DB hiccup
                log.warning("push_round_failed", error=repr(exc))
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.push_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """One round: claim and attempt the head change of every due queue. Returns attempts made."""
        rows, partners = await self._claim()
        by_partner: dict[int, list[OutboxRow]] = {}
        for row in rows:
            by_partner.setdefault(row.partner_id, []).append(row)
        await asyncio.gather(*(self._deliver_partner(partners.get(pid), items) for pid, items in by_partner.items()))
        return len(rows)  # the pending / failing gauges are refreshed when /metrics is scraped

    async def _claim(self) -> tuple[list[OutboxRow], dict[int, Partner]]:
        """Claim due heads so that several replicas (PostgreSQL) never send the same change twice
        or two changes of one object at once: the rows are locked with FOR UPDATE SKIP LOCKED (a
        head another replica is claiming is skipped, not waited for) and leased by moving their
        next_attempt_at past the time this round may take. Delivery then sets next_attempt_at
        (retry) or the state (done); a replica that dies mid-round only delays its heads until
        the lease ends. On SQLite the clause is left out (one replica, one pusher loop)."""
        now = now_naive()
        async with self.sm.begin() as db:
            rows = (await db.execute(due_heads(now))).scalars().all()
            if rows:
                # per partner, PARALLEL deliveries at a time, each up to push_timeout_s
                per_partner = max(sum(1 for r in rows if r.partner_id == pid) for pid in {r.partner_id for r in rows})
                lease = self.settings.push_timeout_s * (per_partner // PARALLEL + 2)
                await db.execute(update(OutboxRow).where(OutboxRow.seq.in_([r.seq for r in rows]))
                                 .values(next_attempt_at=now + timedelta(seconds=lease)))
            partners = {p.id: p for p in (await db.execute(select(Partner))).scalars()}
        return list(rows), partners

    async def _deliver_partner(self, partner: Partner | None, rows: list[OutboxRow]) -> None:
        sem = asyncio.Semaphore(PARALLEL)

        async def one(row: OutboxRow) -> None:
            async with sem:
                await self._deliver(partner, row)
        await asyncio.gather(*(one(r) for r in rows))

    async def _deliver(self, partner: Partner | None, row: OutboxRow) -> None:
        if partner is None or partner.state != "registered" or not partner.token_out:
            async with self.sm.begin() as db:  # an unregistered partner gets nothing more
                await db.execute(update(OutboxRow).where(OutboxRow.partner_id == row.partner_id,
                                                         OutboxRow.state == "pending").values(state="skipped"))
            return
        base = receiver_url(partner, row.module)
        if base is None:
            await self._finish(row, partner, "skipped")
            return
        name = partner.name
        try:
            outcome = await self._send(partner, base, row)
        except Exception as exc:  # noqa: BLE001 - network errors are retried
            outcome = f"{exc.__class__.__name__}: {exc}"
        if outcome in ("done", "skipped"):
            if outcome == "done":
                self.metrics.delivered.labels(name, row.module).inc()
                self.metrics.last_success.labels(name).set(datetime.now().timestamp())
            else:
                self.metrics.skipped.labels(name, row.module).inc()
            return
        self.metrics.failures.labels(name, row.module).inc()
        backoff = min(self.settings.push_backoff_max_s, self.settings.push_backoff_min_s * (2 ** row.attempts))
        async with self.sm.begin() as db:
            await db.execute(update(OutboxRow).where(OutboxRow.seq == row.seq).values(
                attempts=OutboxRow.attempts + 1, last_error=outcome[:1000],
                next_attempt_at=now_naive() + timedelta(seconds=backoff)))
        log.info("push_retry", partner=name, module=row.module, object=row.object_key, error=outcome,
                 backoff_s=backoff)

    async def _delivered(self, db: AsyncSession, row: OutboxRow, sub_key: str = "") -> Delivered | None:
        return await db.get(Delivered, (row.partner_id, row.module, row.object_key, sub_key))

    async def _send(self, partner: Partner, base: str, row: OutboxRow) -> str:
        roles = orjson.loads(partner.roles or "[]")
        to_party = (roles[0]["country_code"], roles[0]["party_id"]) if roles else None
        token = partner.token_out
        async with self.sm() as db:
            whole = await self._delivered(db, row)
            current = None
            if row.module in _CURRENT and whole is None and row.kind != "delete":
                current = await self._current(db, row.module, row.object_key)
        obj_url = f"{base}/{row.object_key}"
        if row.module == "cdrs":
            if whole is not None:
                return await self._finish(row, partner, "skipped")
            reply = await self.client.request("POST", base, token, json=row.body.encode(), to_party=to_party)
            return await self._result(reply, row, partner, method="POST", set_delivered=row.last_updated)
        if row.kind == "delete":
            reply = await self.client.request("DELETE", obj_url, token, to_party=to_party)
            if reply.ok:
                async with self.sm.begin() as db:
                    await db.execute(delete(Delivered).where(
                        Delivered.partner_id == row.partner_id, Delivered.module == row.module,
                        Delivered.object_key == row.object_key))
            return await self._result(reply, row, partner, method="DELETE")
        if whole is None:
            if current is None:  # the object left the read model before its first delivery
                return await self._finish(row, partner, "skipped")
            # PUT before PATCH: the partner gets the whole current object first.
            reply = await self.client.request("PUT", obj_url, token, json=current.encode(), to_party=to_party)
            lu = _parse_lu(orjson.loads(current))
            return await self._result(reply, row, partner, method="PUT", set_delivered=lu, supersede_upto=lu)
        if row.last_updated <= whole.last_updated:
            return await self._finish(row, partner, "skipped")
        if row.kind == "patch_evse":
            async with self.sm() as db:
                sub = await self._delivered(db, row, row.sub_key or "")
            if sub is not None and row.last_updated <= sub.last_updated:
                return await self._finish(row, partner, "skipped")
            reply = await self.client.request("PATCH", f"{obj_url}/{row.sub_key}", token,
                                              json=row.body.encode(), to_party=to_party)
            return await self._result(reply, row, partner, method="PATCH", set_delivered=row.last_updated,
                                      sub_key=row.sub_key or "")
        method = "PUT" if row.kind == "put" else "PATCH"
        reply = await self.client.request(method, obj_url, token, json=row.body.encode(), to_party=to_party)
        return await self._result(reply, row, partner, method=method, set_delivered=row.last_updated)

    async def _current(self, db: AsyncSession, module: str, object_key: str) -> str | None:
        if module == "sessions":
            sid = object_key.rsplit("/", 1)[-1]
            return (await db.execute(select(SessionRow.ocpi).where(SessionRow.session_id == sid))).scalar()
        table, col = _CURRENT[module]
        return (await db.execute(select(table.ocpi).where(col == object_key))).scalar()

    async def _result(self, reply, row: OutboxRow, partner: Partner, *, method: str = "", set_delivered: datetime | None = None,
                      sub_key: str = "", supersede_upto: datetime | None = None) -> str:
        if not reply.ok:
            return reply.describe()
        async with self.sm.begin() as db:
            if set_delivered is not None:
                d = await db.get(Delivered, (row.partner_id, row.module, row.object_key, sub_key))
                if d is None:
                    db.add(Delivered(partner_id=row.partner_id, module=row.module, object_key=row.object_key,
                                     sub_key=sub_key, last_updated=set_delivered))
                elif set_delivered > d.last_updated:
                    d.last_updated = set_delivered
            await db.execute(update(OutboxRow).where(OutboxRow.seq == row.seq).values(state="done"))
            if supersede_upto is not None:
                await db.execute(update(OutboxRow).where(and_(
                    OutboxRow.partner_id == row.partner_id, OutboxRow.module == row.module,
                    OutboxRow.object_key == row.object_key, OutboxRow.state == "pending",
                    OutboxRow.last_updated <= supersede_upto)).values(state="skipped"))
        log.info("pushed", partner=partner.name, module=row.module, object=row.object_key, method=method,
                 sub=row.sub_key)
        return "done"

    async def _finish(self, row: OutboxRow, partner: Partner, state: str) -> str:
        async with self.sm.begin() as db:
            await db.execute(update(OutboxRow).where(OutboxRow.seq == row.seq).values(state=state))
        return state

    async def state(self) -> list[dict]:
        """Per-partner delivery state (for `voltstream partner status` and /metrics)."""
        async with self.sm() as db:
            return await delivery_state(db)

    async def refresh_metrics(self) -> None:
        for st in await self.state():
            self.metrics.pending.labels(st["partner"]).set(st["pending"])
            self.metrics.failing.labels(st["partner"]).set(st["failing"])


async def delivery_state(db: AsyncSession) -> list[dict]:
    out = []
    for p in (await db.execute(select(Partner).order_by(Partner.id))).scalars():
        pending = (await db.execute(select(func.count()).where(
            OutboxRow.partner_id == p.id, OutboxRow.state == "pending"))).scalar_one()
        failing = (await db.execute(select(func.count()).where(
            OutboxRow.partner_id == p.id, OutboxRow.state == "pending", OutboxRow.attempts > 0))).scalar_one()
        last_error = (await db.execute(select(OutboxRow.last_error).where(
            OutboxRow.partner_id == p.id, OutboxRow.state == "pending", OutboxRow.last_error.is_not(None))
            .order_by(OutboxRow.seq).limit(1))).scalar()
        delivered = (await db.execute(select(func.count()).where(
            OutboxRow.partner_id == p.id, OutboxRow.state == "done"))).scalar_one()
        out.append({"id": p.id, "partner": p.name, "state": p.state, "version": p.version,
                    "roles": [f"{r['country_code']}/{r['party_id']} {r['role']}" for r in orjson.loads(p.roles or "[]")],
                    "pending": pending, "failing": failing, "delivered": delivered, "last_error": last_error,
                    "registered_at": aware(p.updated_at).isoformat()})
    return out

