"""Real-time authorisation towards eMSPs (mod_tokens.asciidoc "Real-time authorization").

The gateway publishes `auth.requested` (auth-requests) for a token its whitelist rule says to ask
about; this answers each with `auth.responded` (auth-responses) after asking the token's eMSP:
`POST {tokens (SENDER)}/{uid}/authorize?type=` with the LocationReferences of the charger.

Whom to ask: the connection that owns the token's record (`partner:<id>`); for a uid nobody
pushed, a hub partner or the configured `default_emsp` — otherwise the answer is `unknown_token`
(the gateway refuses: Invalid). An eMSP answering HTTP 404 or 2004 means unknown_token too; no
usable answer in time is `emsp_unreachable` (the gateway applies the whitelist rule).
One consumer group over all replicas: each request is asked once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

import orjson
import structlog
from pydantic import ValidationError
from sqlalchemy import select

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.consumer import Delivery, EventConsumer
from libs.events.control import AuthAnswer, AuthRequest, AuthRequested, AuthResponded
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.ocpi.models import AuthorizationInfo
from libs.ocpi.status import OcpiStatus
from services.ocpi.client import OcpiClient
from services.ocpi.db import Partner
from services.ocpi.settings import OcpiSettings
from services.ocpi.tokens import owner_partner_id

log = structlog.get_logger("ocpi.realtime")

UNKNOWN_TOKEN = "unknown_token"
UNREACHABLE = "emsp_unreachable"
NO_EMSP = "no_emsp"  # a known token whose owner has no OCPI connection (e.g. the operator's own)
# 2.0.1 IdTokenEnumType -> OCPI TokenType (the charger's type when the index does not know the uid)
TO_OCPI_TYPE = {"ISO14443": "RFID", "ISO15693": "RFID", "RFID": "RFID", "APP_USER": "APP_USER",
                "AD_HOC_USER": "AD_HOC_USER", "OTHER": "OTHER"}


def sender_url(partner: Partner, module: str) -> str | None:
    for e in orjson.loads(partner.endpoints or "[]"):
        if e.get("identifier") == module and e.get("role") == "SENDER":
            return e["url"].rstrip("/")
    return None


class RealtimeAuthResponder:
    def __init__(self, settings: OcpiSettings, kafka: KafkaSettings, index: CatalogIndex, sessionmaker,
                 client: OcpiClient):
        self.settings = settings
        self.kafka = kafka
        self.index = index
        self.sm = sessionmaker
        self.client = client
        self._producer: EventProducer | None = None
        self._consumer: EventConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self, producer: EventProducer) -> None:
        self._producer = producer
        self._consumer = EventConsumer(self.kafka, service="ocpi", topics=["auth-requests"], handler=self._handle,
                                       producer=producer, group_id=f"{self.kafka.topic_prefix}ocpi-auth")
        await self._consumer.start()
        self._task = asyncio.create_task(self._consumer.run(), name="ocpi-realtime-auth")

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _handle(self, deliveries: list[Delivery]) -> None:
        now = datetime.now(UTC)
        requests = [d.event.payload for d in deliveries
                    if isinstance(d.event, AuthRequested) and not now >= d.event.payload.expires_at]
        await asyncio.gather(*(self.answer(r) for r in requests))

    async def answer(self, req: AuthRequest) -> AuthAnswer:
        try:
            answer = await self._ask(req)
        except Exception as exc:  # noqa: BLE001 - any failure is "no answer": the gateway's fallback
            log.warning("realtime_auth_failed", request_id=req.request_id, error=repr(exc))
            answer = AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=UNREACHABLE)
        assert self._producer is not None
        await self._producer.send(AuthResponded.create(payload=answer, source=Source.OCPI))
        log.info("realtime_auth_answered", request_id=req.request_id, allowed=answer.allowed, error=answer.error)
        return answer

    async def _whom(self, req: AuthRequest) -> tuple[Partner | None, str | None]:
        """(the partner to ask, or None with the reason)."""
        record = self.index.records["tokens"].get(req.token_key) if req.token_key else None
        async with self.sm() as db:
            if record is not None:
                pid = owner_partner_id(record.owner)
                partner = await db.get(Partner, pid) if pid is not None else None
                return (partner, None) if partner is not None and partner.state == "registered" else (None, NO_EMSP)
            partners = (await db.execute(select(Partner).where(Partner.state == "registered")
                                         .order_by(Partner.id))).scalars().all()
        for p in partners:  # a uid nobody pushed: a hub knows every eMSP's tokens
            if any(r.get("role") == "HUB" for r in orjson.loads(p.roles or "[]")):
                return p, None
        default = self.settings.default_emsp
        if default:
            for p in partners:
                if p.name == default or str(p.id) == default:
                    return p, None
        return None, UNKNOWN_TOKEN

    async def _ask(self, req: AuthRequest) -> AuthAnswer:
        partner, reason = await self._whom(req)
        if partner is None:
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=reason)
        url = sender_url(partner, "tokens")
        if url is None or not partner.token_out:
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=NO_EMSP)
        record = self.index.records["tokens"].get(req.token_key) if req.token_key else None
        uid = record.token.uid if record else req.id_token
        token_type = str(record.token.type) if record else TO_OCPI_TYPE.get(req.token_type or "", "RFID")
        to_party = (record.token.country_code, record.token.party_id) if record else None
        body = None
        if req.location_id:  # mod_tokens: without LocationReferences the eMSP may answer 2002
            body = {"location_id": req.location_id}
            if req.evse_uid:
                body["evse_uids"] = [req.evse_uid]
        left = (req.expires_at - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=UNREACHABLE)
        reply = await asyncio.wait_for(self.client.request(
            "POST", f"{url}/{quote(uid, safe='')}/authorize?type={token_type}", partner.token_out,
            json=body, to_party=to_party), left)
        code = reply.body.get("status_code") if reply.body else None
        if reply.http_status == 404 or code == OcpiStatus.UNKNOWN_TOKEN:
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=UNKNOWN_TOKEN)
        if not reply.ok:
            log.warning("realtime_auth_refused", partner=partner.id, reply=reply.describe())
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=UNREACHABLE)
        try:
            info = AuthorizationInfo.model_validate(reply.body.get("data"))
        except ValidationError:
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED", error=UNREACHABLE)
        if req.evse_uid and info.location is not None and info.location.evse_uids is not None \
                and not any(e.upper() == req.evse_uid.upper() for e in info.location.evse_uids):
            # "Only the EVSEs the EV driver is allowed to charge at are returned"
            return AuthAnswer(request_id=req.request_id, allowed="NOT_ALLOWED",
                              authorization_reference=info.authorization_reference, token=info.token.to_ocpi())
        return AuthAnswer(request_id=req.request_id, allowed=str(info.allowed),
                          authorization_reference=info.authorization_reference, token=info.token.to_ocpi())
