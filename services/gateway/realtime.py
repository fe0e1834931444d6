"""The gateway's side of real-time authorisation (the `RealtimeAuthorizer` of authorize.py).

Publishes `auth.requested` (auth-requests) with the OCPI location reference of the charger and
waits at most `timeout` seconds — well inside a charger's own call timeout — for the matching
`auth.responded` (auth-responses, followed from the end). The OCPI adapter asks the eMSP.

Returns (AllowedType, authorization_reference); "UNKNOWN" when the eMSP (or nobody) knows the
token; None when there was no answer in time or the eMSP could not be reached — then the
Authorizer applies the token's whitelist rule.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import structlog

from libs.catalog.index import CatalogIndex
from libs.events.bus import KafkaSettings
from libs.events.control import AuthAnswer, AuthRequest, AuthRequested, AuthResponded
from libs.events.envelope import Event, Source
from libs.events.follower import TopicFollower
from libs.events.producer import EventProducer

log = structlog.get_logger("gateway.realtime")
UNKNOWN = "UNKNOWN"


class KafkaRealtimeAuthorizer:
    def __init__(self, kafka: KafkaSettings, index: CatalogIndex, *, timeout: float, client_id: str):
        self.index = index
        self.timeout = timeout
        self._producer = EventProducer(kafka, client_id=client_id)
        self._answers = TopicFollower(kafka, ["auth-responses"], self._on_answer, from_end=True)
        self._pending: dict[str, asyncio.Future[AuthAnswer]] = {}

    async def start(self) -> None:
        await self._producer.start()
        await self._answers.start()

    async def stop(self) -> None:
        await self._answers.stop()
        await self._producer.stop()

    def _on_answer(self, _topic: str, _key: str, event: Event | None) -> None:
        if isinstance(event, AuthResponded):
            fut = self._pending.get(event.payload.request_id)
            if fut is not None and not fut.done():
                fut.set_result(event.payload)

    async def authorize(self, station_id: str, id_token: str, token_type: str | None, evse_id: int | None,
                        token_key: str | None = None) -> tuple[str, str | None] | None:
        request_id = str(uuid.uuid4())
        evse = self.index.evse(station_id, evse_id) if evse_id else None
        evses = self.index.station_evses(station_id)
        location_id = evse.location_id if evse else (evses[0].location_id if evses else None)
        now = datetime.now(UTC)
        fut: asyncio.Future[AuthAnswer] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            await asyncio.wait_for(self._producer.send(AuthRequested.create(
                payload=AuthRequest(request_id=request_id, id_token=id_token, token_type=token_type,
                                    token_key=token_key, evse_id=evse_id, location_id=location_id,
                                    evse_uid=evse.evse_uid if evse else None,
                                    expires_at=now + timedelta(seconds=self.timeout)),
                source=Source.GATEWAY, station_id=station_id, received_at=now)), self.timeout)
            answer = await asyncio.wait_for(fut, max(self.timeout - (datetime.now(UTC) - now).total_seconds(), 0.01))
        except TimeoutError:
            log.info("realtime_auth_timeout", station_id=station_id, request_id=request_id)
            return None
        except Exception as exc:  # noqa: BLE001 - Kafka trouble is "no answer": the whitelist rule applies
            log.warning("realtime_auth_failed", station_id=station_id, error=repr(exc))
            return None
        finally:
            self._pending.pop(request_id, None)
        if answer.error == "unknown_token":
            return UNKNOWN, None
        if answer.error:
            return None
        return answer.allowed, answer.authorization_reference
