"""commands module, Receiver interface (mod_commands.asciidoc): the eMSP's START_SESSION,
STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR to our chargers.

The immediate answer is a CommandResponse (ACCEPTED / REJECTED / UNKNOWN_SESSION, with the
`timeout` within which the result comes); an accepted command goes through the commands library
(`commands` topic, the partner's `response_url` in the reply context) and its CommandResult is
POSTed to `response_url` when the charger answered, or on timeout / offline.

An accepted command is written to the adapter's database before the CommandResponse is answered
(services/ocpi/pending_commands.py): a restarted adapter sends what was never sent, finds the
answers published while it was down on `command-results`, and POSTs every CommandResult still owed.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select

from libs.catalog.index import CatalogIndex
from libs.catalog.models import Evse, LocationRecord
from libs.commands.client import CommandsClient
from libs.events.bus import KafkaSettings
from libs.events.control import CommandAnswer, CommandKind, CommandOutcome, CommandRequested
from libs.events.envelope import Event
from libs.ocpi.models import CancelReservation, ReserveNow, StartSession, StopSession, UnlockConnector
from libs.ocpi.status import OcpiStatus
from libs.ocpi.types import format_datetime
from services.ocpi.active_sessions import ActiveSessions
from services.ocpi.api.common import PartnerContext
from services.ocpi.client import OcpiClient
from services.ocpi.command_results import command_result
from services.ocpi.db import Partner, now_naive
from services.ocpi.pending_commands import Pending, PendingCommands, ResultScan, scan_start
from services.ocpi.reservations import ReservationRow, ocpp_reservation_id, party_key
from services.ocpi.settings import OcpiSettings

log = structlog.get_logger("ocpi.commands")

BODIES = {"START_SESSION": StartSession, "STOP_SESSION": StopSession, "RESERVE_NOW": ReserveNow,
          "CANCEL_RESERVATION": CancelReservation, "UNLOCK_CONNECTOR": UnlockConnector}
KINDS = {"START_SESSION": CommandKind.REMOTE_START, "STOP_SESSION": CommandKind.REMOTE_STOP,
         "RESERVE_NOW": CommandKind.RESERVE_NOW, "CANCEL_RESERVATION": CommandKind.CANCEL_RESERVATION,
         "UNLOCK_CONNECTOR": CommandKind.UNLOCK_CONNECTOR}
RESULT_ATTEMPTS = 3  # OCPI "does not allow/require retries"; a couple of quick ones against glitches
EXPIRY_GRACE_S = 1.0  # after expires_at, how long a recovered command still waits for the gateway's answer
STALE_CLAIM_S = 120.0  # a claimed result not posted after this long: its poster died, post it again


@dataclass
class Decision:
    """The CommandResponse, and what to send when ACCEPTED (station None: result without charger)."""

    result: str
    status_code: int = OcpiStatus.SUCCESS
    message: str | None = None
    station_id: str | None = None
    kind: CommandKind | None = None
    args: dict[str, Any] = field(default_factory=dict)
    command_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    immediate_result: str | None = None  # ACCEPTED without a charger call: this CommandResult


def derived_id(command_id: str, what: str) -> int:
    """A positive 31-bit id from the command id (remote_start_id): stable across re-deliveries."""
    digest = hashlib.sha256(f"{command_id}/{what}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def rejected(message: str, status_code: int = OcpiStatus.SUCCESS) -> Decision:
    return Decision("REJECTED", status_code=status_code, message=message)


def unknown_location(message: str) -> Decision:
    # mod_commands "UNLOCK_CONNECTOR Unknown Location": status_code 2003, CommandResponse REJECTED
    return rejected(message, OcpiStatus.UNKNOWN_LOCATION)


class MarkSent:
    """The producer the commands client sends through: once Kafka acknowledged a command, its row
    is marked sent, so a restarted adapter knows whether it still has to send it."""

    def __init__(self, producer, pending: PendingCommands):
        self._producer = producer
        self._pending = pending

    async def send(self, event: Event) -> Any:
        out = await self._producer.send(event)
        if isinstance(event, CommandRequested):
            try:
                await self._pending.mark_sent(event.payload.command_id)
            except Exception as exc:  # noqa: BLE001 - then a restart sends it again (same id: dropped as seen)
                log.warning("command_mark_sent_failed", command_id=event.payload.command_id, error=repr(exc))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


class CommandsReceiver:
    def __init__(self, settings: OcpiSettings, index: CatalogIndex, sessions: ActiveSessions, sessionmaker,
                 client: OcpiClient):
        self.settings = settings
        self.index = index
        self.sessions = sessions
        self.sm = sessionmaker
        self.client = client
        self.pending = PendingCommands(sessionmaker)
        self.commands: CommandsClient | None = None  # set when the service starts
        self._tasks: set[asyncio.Task] = set()
        self._scan: ResultScan | None = None
        self.scan_factory = ResultScan  # (kafka, command ids, since) -> the scan; tests swap it

    @property
    def timeout_s(self) -> int:
        return self.settings.command_timeout_s

    # --- the immediate answer -------------------------------------------------------------------
    async def decide(self, ctx: PartnerContext, command: str, body) -> Decision:
        if command == "START_SESSION":
            return self._start(ctx, body)
        if command == "STOP_SESSION":
            return self._stop(ctx, body)
        if command == "RESERVE_NOW":
            return await self._reserve(ctx, body)
        if command == "CANCEL_RESERVATION":
            return await self._cancel(ctx, body)
        return self._unlock(body)

    def _location(self, location_id: str) -> LocationRecord | None:
        ours = (self.settings.country_code.upper(), self.settings.party_id.upper())
        for rec in self.index.locations():
            if rec.location.id.upper() == location_id.upper() and (rec.country_code.upper(),
                                                                   rec.party_id.upper()) == ours:
                return rec
        return None

    @staticmethod
    def _evse(rec: LocationRecord, evse_uid: str) -> Evse | None:
        return next((e for e in rec.location.evses if e.uid.upper() == evse_uid.upper() and not e.removed), None)

    def _target(self, location_id: str, evse_uid: str | None) -> Decision | tuple[LocationRecord, Evse, int | None]:
        """Resolve a command's location / EVSE: (location, EVSE, OCPP evse id or None when the
        charger may choose), or the refusal for an unknown one."""
        rec = self._location(location_id)
        if rec is None or rec.location.removed:
            return unknown_location(f"unknown location {location_id}")
        if evse_uid is not None:
            evse = self._evse(rec, evse_uid)
            if evse is None:
                return unknown_location(f"unknown EVSE {evse_uid} at {location_id}")
            return rec, evse, evse.ocpp_evse_id
        evse, charger_chooses = self._any_evse(rec)
        if evse is None:
            return unknown_location(f"location {location_id} has no EVSE")
        return rec, evse, None if charger_chooses else evse.ocpp_evse_id

    def _any_evse(self, rec: LocationRecord) -> tuple[Evse | None, bool]:
        """No EVSE named: (the EVSE to use, whether the charger may choose itself — the location
        has a single station)."""
        evses = [e for e in rec.location.evses if not e.removed]
        if not evses:
            return None, False
        stations = {e.station_id for e in evses}
        online = [e for e in evses if self.commands is not None and self.commands.presence.is_online(e.station_id)]
        return (online or evses)[0], len(stations) == 1

    def _token_not_ours(self, ctx: PartnerContext, token) -> Decision | None:
        # "An eMSP sending a StartSession SHALL only use Token that are owned by this eMSP"
        if not ctx.owns(token.country_code, token.party_id):
            return rejected("the token belongs to another eMSP")
        return None

    def _start(self, ctx: PartnerContext, m: StartSession) -> Decision:
        if (refusal := self._token_not_ours(ctx, m.token)) is not None:
            return refusal
        target = self._target(m.location_id, m.evse_uid)
        if isinstance(target, Decision):
            return target
        rec, evse, evse_id = target
        if m.evse_uid is not None and m.connector_id is not None and not any(
                c.id.upper() == m.connector_id.upper() and not c.removed for c in evse.connectors):
            return unknown_location(f"unknown connector {m.connector_id} of EVSE {m.evse_uid}")
        d = Decision("ACCEPTED", station_id=evse.station_id, kind=CommandKind.REMOTE_START)
        # the session service correlates the session with this command by these arguments
        d.args = {"id_token": m.token.uid, "token_type": str(m.token.type),
                  "remote_start_id": derived_id(d.command_id, "remote_start"),
                  # the session's cdr_token, also for a token the eMSP never pushed
                  "cdr_token": {"uid": m.token.uid, "type": str(m.token.type), "contract_id": m.token.contract_id,
                                "country_code": m.token.country_code, "party_id": m.token.party_id}}
        if evse_id is not None:
            d.args["evse_id"] = evse_id
        if m.authorization_reference:
            d.args["authorization_reference"] = m.authorization_reference
        return d

    def _stop(self, ctx: PartnerContext, m: StopSession) -> Decision:
        running = self.sessions.get(m.session_id)
        if running is None:
            if self.sessions.ended(m.session_id):
                return rejected("the session has already ended")
            return Decision("UNKNOWN_SESSION", message=f"unknown session {m.session_id}")
        if running.token_party is None or not ctx.owns(*running.token_party):
            # CommandResponseType REJECTED: "Session might not be from a customer of the eMSP"
            return rejected("the session is not one of this eMSP's customers")
        return Decision("ACCEPTED", station_id=running.station_id, kind=CommandKind.REMOTE_STOP,
                        args={"transaction_id": running.transaction_ref})

    async def _reserve(self, ctx: PartnerContext, m: ReserveNow) -> Decision:
        if (refusal := self._token_not_ours(ctx, m.token)) is not None:
            return refusal
        target = self._target(m.location_id, m.evse_uid)
        if isinstance(target, Decision):
            return target
        rec, evse, evse_id = target
        party = party_key(m.token.country_code, m.token.party_id)
        ocpp_id = ocpp_reservation_id(party, m.reservation_id)
        async with self.sm.begin() as db:
            row = await db.get(ReservationRow, (party, m.reservation_id))
            if row is None:
                row = ReservationRow(party=party, reservation_id=m.reservation_id)
                db.add(row)
            row.station_id, row.ocpp_reservation_id = evse.station_id, ocpp_id
            row.location_id, row.evse_uid = rec.location.id, m.evse_uid
        args: dict[str, Any] = {"id_token": m.token.uid, "token_type": str(m.token.type),
                                "expires": format_datetime(m.expiry_date), "reservation_id": ocpp_id}
        if evse_id is not None:
            args["evse_id"] = evse_id
        if m.token.group_id:
            args["group_id"] = m.token.group_id
        return Decision("ACCEPTED", station_id=evse.station_id, kind=CommandKind.RESERVE_NOW, args=args)

    async def _cancel(self, ctx: PartnerContext, m: CancelReservation) -> Decision:
        parties = ctx.party_filter()
        async with self.sm() as db:
            query = select(ReservationRow).where(ReservationRow.reservation_id == m.reservation_id)
            rows = (await db.execute(query)).scalars().all()
        row = next((r for r in rows if parties is None or tuple(r.party.split("/")) in parties), None)
        if row is None:  # never reserved through us: the reservation is not known at any charger
            return Decision("ACCEPTED", kind=CommandKind.CANCEL_RESERVATION, immediate_result="UNKNOWN_RESERVATION")
        return Decision("ACCEPTED", station_id=row.station_id, kind=CommandKind.CANCEL_RESERVATION,
                        args={"reservation_id": row.ocpp_reservation_id})

    def _unlock(self, m: UnlockConnector) -> Decision:
        rec = self._location(m.location_id)
        if rec is None or rec.location.removed:
            return unknown_location(f"unknown location {m.location_id}")
        evse = self._evse(rec, m.evse_uid)
        if evse is None:
            return unknown_location(f"unknown EVSE {m.evse_uid} at {m.location_id}")
        connector = next((c for c in evse.connectors if c.id.upper() == m.connector_id.upper()), None)
        if connector is None:
            return unknown_location(f"unknown connector {m.connector_id} of EVSE {m.evse_uid}")
        return Decision("ACCEPTED", station_id=evse.station_id, kind=CommandKind.UNLOCK_CONNECTOR,
                        args={"evse_id": evse.ocpp_evse_id, "connector_id": connector.ocpp_connector_id})

    # --- the asynchronous result ------------------------------------------------------------------
    def _reply_context(self, p: Pending) -> dict[str, Any]:
        return {"requester": "ocpi", "partner": p.partner_id, "command": p.command, "response_url": p.response_url}

    async def accept(self, ctx: PartnerContext, command: str, response_url: str, d: Decision) -> None:
        """Record an ACCEPTED command (durable before the CommandResponse goes out), then run it in
        the background and POST its CommandResult to response_url."""
        to_party = (ctx.from_party.country_code, ctx.from_party.party_id) if ctx.from_party else None
        now = now_naive()
        # the gateway's own timeout is shorter than this, so the eMSP hears back within `timeout`
        expires = now + timedelta(seconds=max(self.timeout_s - 2, 1))
        p = Pending(d.command_id, ctx.partner.id, command, response_url, to_party,
                    str(d.kind) if d.kind is not None else None, d.station_id, dict(d.args), now, expires,
                    result=d.immediate_result,
                    message="the reservation is not known" if d.immediate_result else None)
        await self.pending.add(p)
        self._spawn(self._run(p), p.command_id)

    def _spawn(self, coro, command_id: str) -> None:
        task = asyncio.create_task(coro, name=f"ocpi-command-{command_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, p: Pending) -> CommandAnswer:
        assert self.commands is not None and p.kind is not None and p.station_id is not None
        answer = await self.commands.send(p.station_id, CommandKind(p.kind), p.args,
                                          timeout_s=max(p.seconds_left(), 0.1), command_id=p.command_id,
                                          reply_context=self._reply_context(p))
        log.info("command_answered", command=p.command, command_id=p.command_id, station_id=p.station_id,
                 outcome=str(answer.outcome), status=answer.status)
        return answer

    async def _run(self, p: Pending) -> None:
        if p.result is not None:
            await self._finish(p, p.result, p.message)
            return
        answer = await self._send(p)
        await self._finish(p, *command_result(CommandKind(p.kind), answer))

    async def _finish(self, p: Pending, result: str, message: str | None, stale_claim=None) -> None:
        """POST the CommandResult unless another task or replica claimed it first."""
        if not await self.pending.claim(p.command_id, result, message, stale_claim):
            return
        log.info("command_result", command=p.command, command_id=p.command_id, result=result)
        await self.post_result(p.partner_id, p.response_url, result, message, p.to_party)
        await self.pending.done(p.command_id)  # posted, or given up after RESULT_ATTEMPTS

    # --- after a restart: what the previous run still owed ------------------------------------------
    async def recover(self, kafka: KafkaSettings, presence_ready, before: datetime) -> int:
        """POST the CommandResult of every command the previous run (or a dead replica) accepted
        and never answered: a result already claimed is posted again if its poster died; a known
        answer on `command-results` is used; a command never sent is sent now (or FAILED when it
        expired meanwhile); one sent but unanswered waits until it expires (TIMEOUT). Returns the
        number of commands recovered. Only commands accepted `before` (this run's start): later ones
        are this run's own."""
        owed = await self.pending.unfinished(before)
        if not owed:
            return 0
        await presence_ready()  # the commands client answers station_offline from presence
        unresolved = [p for p in owed if p.result is None and p.claimed_at is None]
        if unresolved:
            self._scan = self.scan_factory(kafka, [p.command_id for p in unresolved], scan_start(unresolved))
            await self._scan.start()
        log.info("commands_recovering", owed=len(owed), unresolved=len(unresolved))
        scanning = []
        for p in owed:
            task = asyncio.create_task(self._recover_one(p), name=f"ocpi-command-recover-{p.command_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if p.result is None and p.claimed_at is None:
                scanning.append(task)
        self._spawn(self._end_scan(scanning), "scan")
        return len(owed)

    async def _end_scan(self, tasks: list[asyncio.Task]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._scan is not None:
            await self._scan.stop()
            self._scan = None

    async def _recover_one(self, p: Pending) -> None:
        if p.claimed_at is not None:  # claimed, never finished: wait for the claim to go stale
            await asyncio.sleep(max(0.0, STALE_CLAIM_S - (now_naive() - p.claimed_at).total_seconds()))
            await self._finish(p, p.result or "FAILED", p.message, stale_claim=p.claimed_at)
            return
        if p.result is not None:
            await self._finish(p, p.result, p.message)
            return
        assert self._scan is not None
        answer = await self._scan.answer(p.command_id, 0)  # published while nobody listened?
        if answer is None and p.sent_at is None:
            if p.seconds_left() <= 0:
                await self._finish(p, "FAILED", "the command expired before it could be sent to the charge point")
                return
            # perhaps sent after all (the mark was lost): the gateway drops a repeated command id, and
            # the commands client hears the answer to the first send, which has the same id
            answer = await self._send(p)
        elif answer is None:
            answer = await self._scan.answer(p.command_id, p.seconds_left() + EXPIRY_GRACE_S)
        if answer is None:
            answer = CommandAnswer(command_id=p.command_id, outcome=CommandOutcome.TIMEOUT,
                                   error="no result before expires_at")
        await self._finish(p, *command_result(CommandKind(p.kind), answer))

    async def post_result(self, partner_id: int, response_url: str, result: str, message: str | None,
                          to_party=None) -> bool:
        body: dict[str, Any] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message[:512]}]
        for attempt in range(RESULT_ATTEMPTS):
            async with self.sm() as db:
                partner = await db.get(Partner, partner_id)
            if partner is None or partner.state != "registered" or not partner.token_out:
                log.warning("command_result_dropped", partner=partner_id, reason="partner not registered")
                return False
            try:
                reply = await self.client.request("POST", response_url, partner.token_out, json=body,
                                                  to_party=to_party)
                if reply.ok:
                    return True
                log.warning("command_result_refused", url=response_url, reply=reply.describe())
            except Exception as exc:  # noqa: BLE001 - retried, then given up (the eMSP knows the timeout)
                log.warning("command_result_failed", url=response_url, error=repr(exc))
            await asyncio.sleep(0.5 * 2 ** attempt)
        return False

    async def stop(self) -> None:
        """Stop waiting: what is still owed stays in the database for the next start."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._scan is not None:
            await self._scan.stop()
            self._scan = None

