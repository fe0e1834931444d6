"""One charger's WebSocket session: read frames, answer CALLs after their events are durable,
match answers to the gateway's own CALLs (the seam for commands, issue 5), rate-limit, tap frames.

CALLs are handled one at a time per connection, in arrival order (OCPP-J: a sender has at most
one CALL outstanding), so a station's events keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from typing import Any

import structlog
from ocpp.charge_point import camel_to_snake_case as _ocpp_camel_to_snake
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from libs.events.envelope import utcnow
from services.gateway import metrics, rpc
from services.gateway.errors import Fault, OcppFault
from services.gateway.frames import FrameTap
from services.gateway.handlers import CallContext, Handlers
from services.gateway.sink import EventSink, SpoolFull

log = structlog.get_logger("gateway.connection")

# camelCase -> snake_case for one key, as ocpp's camel_to_snake_case spells it; cached because
# that function runs two regex substitutions per key on every CALL (≈15% of a MeterValues' CPU)
# while chargers only ever use a few hundred distinct keys.
_SNAKE: dict[str, str] = {}


def _snake_key(key: str) -> str:
    snake = _SNAKE.get(key)
    if snake is None:
        snake = next(iter(_ocpp_camel_to_snake({key: None})))
        if len(_SNAKE) < 10_000:  # keys come from chargers: bound the cache
            _SNAKE[key] = snake
    return snake


def camel_to_snake_case(data: Any) -> Any:
    """Same result as ocpp.charge_point.camel_to_snake_case (all nested keys), key spelling cached."""
    if isinstance(data, dict):
        return {_snake_key(k): camel_to_snake_case(v) for k, v in data.items()}
    if isinstance(data, list):
        return [camel_to_snake_case(v) for v in data]
    return data


# Actions whose handlers read nested data from call.payload (camelCase, as sent): their keyword
# arguments are converted at the top level only. Converting every sampled value of a MeterValues or
# TransactionEvent to snake_case, for handlers that never read it, cost ~10 % of the gateway's CPU.
SHALLOW_KWARGS = frozenset({"MeterValues", "TransactionEvent"})


def top_level_snake_case(data: dict[str, Any]) -> dict[str, Any]:
    return {_snake_key(k): v for k, v in data.items()}


class CallErrorReceived(Exception):
    def __init__(self, code: str, description: str, details: Any):
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.details = code, description, details


class TokenBucket:
    def __init__(self, rate: float, burst: int):
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class StationConnection:
    def __init__(self, ws: ServerConnection, station_id: str, protocol: str, handlers: Handlers,
                 sink: EventSink, tap: FrameTap, *, max_frame_bytes: int, rate: float, burst: int,
                 validate_responses: bool = True):
        self.ws = ws
        self.station_id = station_id
        self.protocol = protocol
        self.handlers = handlers
        self.sink = sink
        self.tap = tap
        self.max_frame_bytes = max_frame_bytes
        self.bucket = TokenBucket(rate, burst)
        self.validate_responses = validate_responses
        self.connection_id = uuid.uuid4().hex
        self.remote = _remote(ws)
        self.last_seen = time.monotonic()
        self.close_reason: str | None = None
        self._seq = 0
        self._pending: dict[str, asyncio.Future] = {}
        self._call_lock = asyncio.Lock()
        self._supported = handlers.supported()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- incoming ------------------------------------------------------------------------
    async def serve(self) -> None:
        """Read until the socket closes; never raises for bad input."""
        try:
            async for message in self.ws:
                self.last_seen = time.monotonic()
                await self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    async def _on_message(self, message: str | bytes) -> None:
        received_at = utcnow()
        started = time.perf_counter()
        seq = self._next_seq()
        text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
        frame: rpc.Frame | None = None
        try:
            if len(text) > self.max_frame_bytes:
                self._tap_in(seq, text, received_at, None)
                raise OcppFault(Fault.TOO_LARGE, f"{len(text)} > {self.max_frame_bytes} bytes",
                                rpc.peek_message_id(text))
            try:
                frame = rpc.parse(text)
            finally:
                self._tap_in(seq, text, received_at, frame)
            if frame.message_type != rpc.CALL:
                self._on_answer(frame)
                return
            if not self.bucket.allow():
                raise OcppFault(Fault.RATE_LIMITED)
            await self._on_call(frame, seq, received_at, started)
        except OcppFault as fault:
            message_id = fault.message_id or (frame.message_id if frame else rpc.UNREADABLE_ID)
            await self._send_error(message_id, fault, frame.action if frame else None)
        except Exception as exc:  # noqa: BLE001 - a bug must never take the connection down
            log.exception("call_failed", station_id=self.station_id, error=repr(exc)[:200])
            if frame is not None and frame.message_type == rpc.CALL:
                await self._send_error(frame.message_id, OcppFault(Fault.INTERNAL), frame.action)

    async def _on_call(self, frame: rpc.Frame, seq: int, received_at, started: float) -> None:
        action = frame.action
        metrics.MESSAGES_BY(self.protocol, action).inc()
        try:
            rpc.validate_call(self.protocol, action, frame.payload, self._supported)
        except OcppFault as fault:
            fault.message_id = frame.message_id
            raise
        if action != "BootNotification" and not self.handlers.known_station(self.station_id) \
                and self.handlers.boot.unknown_station_status == "Rejected":
            raise OcppFault(Fault.NOT_REGISTERED, "station is not registered", frame.message_id)
        call = CallContext(self.station_id, self.connection_id, seq, received_at, frame.message_id, action,
                           frame.payload)
        convert = top_level_snake_case if action in SHALLOW_KWARGS else camel_to_snake_case
        kwargs = convert(frame.payload)
        route = self.handlers.route_map[action]
        reply = await route["_on_action"](call, **kwargs)
        payload = reply.payload_json()
        if self.validate_responses:
            rpc.validate(self.protocol, rpc.CALLRESULT, action, payload)
        try:
            await self.sink.publish(reply.events + reply.records if reply.records else reply.events)
        except SpoolFull:
            raise OcppFault(Fault.SPOOL_FULL, message_id=frame.message_id) from None
        await self._send(rpc.call_result(frame.message_id, payload), rpc.CALLRESULT, frame.message_id, action)
        metrics.LATENCY_BY(action).observe(time.perf_counter() - started)
        if "_after_action" in route:
            result = route["_after_action"](call, **kwargs)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)

    def _on_answer(self, frame: rpc.Frame) -> None:
        fut = self._pending.get(frame.message_id)
        if fut is None or fut.done():
            log.info("unexpected_answer", station_id=self.station_id, message_id=frame.message_id)
            return
        if frame.message_type == rpc.CALLRESULT:
            fut.set_result(frame.payload)
        else:
            fut.set_exception(CallErrorReceived(frame.error_code, frame.error_description, frame.error_details))

    # --- outgoing ------------------------------------------------------------------------
    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a CALL to the charger and return its CALLRESULT payload.

        Raises CallErrorReceived for a CALLERROR, TimeoutError when the charger doesn't answer,
        ConnectionError when the connection goes away. One CALL at a time (OCPP-J §4.1.1).
        """
        rpc.validate(self.protocol, rpc.CALL, action, payload)
        async with self._call_lock:
            message_id = uuid.uuid4().hex
            fut: asyncio.Future = asyncio.get_running_loop().create_future()
            self._pending[message_id] = fut
            try:
                await self._send(rpc.call(message_id, action, payload), rpc.CALL, message_id, action)
                return await asyncio.wait_for(fut, timeout)
            finally:
                self._pending.pop(message_id, None)

    async def _send_error(self, message_id: str, fault: OcppFault, action: str | None) -> None:
        code = fault.code(self.protocol)
        metrics.CALL_ERRORS_BY(self.protocol, code).inc()
        log.info("call_error", station_id=self.station_id, code=code, detail=fault.detail[:200], action=action)
        await self._send(rpc.call_error(message_id, code, fault.description()), rpc.CALLERROR, message_id, action)

    async def _send(self, text: str, message_type: int, message_id: str, action: str | None) -> None:
        self.tap.record(station_id=self.station_id, connection_id=self.connection_id, seq=self._next_seq(),
                        direction="out", protocol=self.protocol, raw=text, received_at=utcnow(),
                        message_type=message_type, message_id=message_id, action=action)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    def _tap_in(self, seq: int, text: str, received_at, frame: rpc.Frame | None) -> None:
        self.tap.record(station_id=self.station_id, connection_id=self.connection_id, seq=seq, direction="in",
                        protocol=self.protocol, raw=text, received_at=received_at,
                        message_type=frame.message_type if frame else None,
                        message_id=frame.message_id if frame else None, action=frame.action if frame else None)

    async def close(self, code: int = 1001, reason: str = "going away", why: str = "closed") -> None:
        self.close_reason = self.close_reason or why
        await self.ws.close(code, reason)


def _remote(ws: ServerConnection) -> str | None:
    addr = ws.remote_address
    if isinstance(addr, tuple) and addr:
        return f"{addr[0]}:{addr[1]}"
    return None
