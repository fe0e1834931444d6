"""Local authorisation lists kept in sync with the tokens, for the stations this instance holds.

Where the state lives: in the gateway instance holding the station, in memory (`ListState`),
rebuilt on every new connection: the gateway reads the station's limits (1.6 GetConfiguration
LocalAuthListEnabled / LocalAuthListMaxLength / SendLocalListMaxLength; 2.0.1 GetVariables
LocalAuthListCtrlr Enabled / Entries (MaxSet) / ItemsPerMessage / BytesPerMessage) and its list
version (GetLocalListVersion). The list version is a hash of the list's content, so a station
whose version equals the hash of the wanted list is in sync on any replica, after any restart,
without sending anything; otherwise the first sync of a connection is a Full update (the content
behind an unknown version is unknown). Later syncs on the same connection send only the
difference (removals first, so the station never exceeds its capacity); a VersionMismatch answer
falls back to a Full update.

What goes in: valid tokens whose whitelist is not NEVER (NEVER always needs the eMSP), one per
uid (the index's choice: the operator's own token wins, then the most recent), ordered by
priority (the operator's own tokens, then ALLOWED_OFFLINE, then the rest; by uid within a
group) and capped at the station's capacity. 1.6 stations get the short alias of uids longer
than 20 characters. Updates are chunked by items (and bytes for 2.0.1) per message; every
chunk but the last carries an interim version.

Token changes are picked up by a periodic reconcile (`interval`) over the held stations: the
wanted list is computed once per protocol and capacity per round and compared with what each
station holds; nothing is sent when nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from prometheus_client import Counter

from libs.catalog.index import CatalogIndex, short_alias
from libs.catalog.models import CATALOG_OWNER, TokenRecord
from services.gateway.commands.args import Args, SendLocalList
from services.gateway.commands.ocpp201 import FROM_OCPI_TYPE
from services.gateway.commands.target import Target
from services.gateway.connection import CallErrorReceived, StationConnection
from services.gateway.errors import V16
from services.gateway.registry import ConnectionRegistry

log = structlog.get_logger("gateway.commands.local_list")
MESSAGES = Counter("voltstream_gateway_local_list_messages_total", "SendLocalList messages sent", ["update", "status"])


@dataclass(frozen=True)
class Limits:
    enabled: bool
    max_entries: int
    per_message: int
    bytes_per_message: int | None = None


@dataclass
class ListState:
    connection_id: str
    limits: Limits
    version: int  # what the station reported / last accepted
    entries: dict[str, dict[str, Any]] | None = None  # what the station holds; None = unknown


def list_version(entries: dict[str, dict[str, Any]]) -> int:
    """Positive 31-bit hash of the list content (order-independent)."""
    digest = hashlib.sha256(orjson.dumps(entries, option=orjson.OPT_SORT_KEYS)).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def interim_version(final: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{final}/{chunk}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def priority(record: TokenRecord) -> tuple[int, str]:
    own = record.owner == CATALOG_OWNER
    return (0 if own else 1 if record.token.whitelist == "ALLOWED_OFFLINE" else 2, record.token.uid)


def entry(protocol: str, record: TokenRecord) -> tuple[str, dict[str, Any]]:
    """(diff key, AuthorizationData) of one token for a protocol."""
    token = record.token
    if protocol == V16:
        info: dict[str, Any] = {"status": "Accepted"}
        if token.group_id:
            info["parentIdTag"] = short_alias(token.group_id)
        tag = short_alias(token.uid)
        return tag, {"idTag": tag, "idTagInfo": info}
    id_token = {"idToken": token.uid, "type": FROM_OCPI_TYPE.get(token.type, "Central")}
    info = {"status": "Accepted"}
    if token.group_id:
        info["groupIdToken"] = {"idToken": token.group_id, "type": "Central"}
    return f"{id_token['type']}:{token.uid}", {"idToken": id_token, "idTokenInfo": info}


def removal(protocol: str, data: dict[str, Any]) -> dict[str, Any]:
    """A differential entry without info removes the token from the list."""
    return {"idTag": data["idTag"]} if protocol == V16 else {"idToken": data["idToken"]}


def wanted_list(index: CatalogIndex, protocol: str, capacity: int) -> dict[str, dict[str, Any]]:
    chosen = []
    for record in index.tokens():
        token = record.token
        if not token.valid or token.whitelist == "NEVER":
            continue
        if index.token(token.uid) is not token:  # lost the uid conflict
            continue
        chosen.append(record)
    chosen.sort(key=priority)
    out: dict[str, dict[str, Any]] = {}
    for record in chosen:
        if len(out) >= capacity:
            break
        key, data = entry(protocol, record)
        out.setdefault(key, data)
    return out


def chunks(items: list[dict[str, Any]], per_message: int, max_bytes: int | None) -> list[list[dict[str, Any]]]:
    """Split into messages of at most `per_message` items and (roughly, with 200 bytes for the
    envelope) `max_bytes` of JSON. Always at least one (possibly empty) chunk."""
    out: list[list[dict[str, Any]]] = [[]]
    size = 200
    for item in items:
        item_size = len(orjson.dumps(item)) + 1
        full = len(out[-1]) >= per_message or (max_bytes is not None and out[-1] and size + item_size > max_bytes)
        if full:
            out.append([])
            size = 200
        out[-1].append(item)
        size += item_size
    return out


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


class LocalListSync:
    def __init__(self, index: CatalogIndex, registry: ConnectionRegistry, *, interval: float, call_timeout: float,
                 default_max_entries: int = 1000, default_per_message: int = 100, concurrency: int = 10):
        self.index = index
        self.registry = registry
        self.interval = interval
        self.call_timeout = call_timeout
        self.default_max_entries = default_max_entries
        self.default_per_message = default_per_message
        self.states: dict[str, ListState] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one sync at a time per station
        self._gate = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task | None = None

    # --- background reconcile ------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="local-list-sync")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            conns = self.registry.connections()
            held = {c.station_id for c in conns}
            for station_id in [s for s in self.states if s not in held]:
                del self.states[station_id]
                self._locks.pop(station_id, None)
            cache: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
            await asyncio.gather(*(self._sync_quietly(c, cache) for c in conns))

    async def _sync_quietly(self, conn: StationConnection, cache: dict) -> None:
        async with self._gate:
            try:
                await self.sync(conn, cache=cache)
            except (TimeoutError, ConnectionError, CallErrorReceived) as exc:
                log.info("local_list_sync_failed", station_id=conn.station_id, error=repr(exc)[:200])
            except Exception:  # noqa: BLE001 - one station's problem never stops the others
                log.exception("local_list_sync_error", station_id=conn.station_id)

    # --- the command kind send_local_list ------------------------------------------------
    async def __call__(self, conn: StationConnection, target: Target, args: Args, timeout: float) -> dict[str, Any]:
        assert isinstance(args, SendLocalList)
        async with asyncio.timeout(timeout):
            return await self.sync(conn, full=args.full)

    # --- one station ---------------------------------------------------------------------
    async def sync(self, conn: StationConnection, *, full: bool = False, cache: dict | None = None) -> dict[str, Any]:
        """Bring the station's list to the wanted one; returns a summary with the last status."""
        async with self._locks.setdefault(conn.station_id, asyncio.Lock()):
            state = self.states.get(conn.station_id)
            if state is None or state.connection_id != conn.connection_id:
                state = await self._connect(conn, state)
                self.states[conn.station_id] = state
            if not state.limits.enabled:
                return {"status": "NotSupported"}
            key = (conn.protocol, state.limits.max_entries)
            wanted = cache.get(key) if cache is not None else None
            if wanted is None:
                wanted = wanted_list(self.index, conn.protocol, state.limits.max_entries)
                if cache is not None:
                    cache[key] = wanted
            version = list_version(wanted)
            if not full and state.version == version:
                state.entries = wanted
                return {"status": "Accepted", "listVersion": version, "entries": len(wanted), "messages": 0}
            if full or state.entries is None:
                return await self._send(conn, state, wanted, version, full=True)
            result = await self._send(conn, state, wanted, version, full=False)
            if result["status"] == "VersionMismatch":
                return await self._send(conn, state, wanted, version, full=True)
            return result

    async def _connect(self, conn: StationConnection, previous: ListState | None) -> ListState:
        limits = await self._limits(conn)
        version = 0
        if limits.enabled:
            answer = await conn.call("GetLocalListVersion", {}, self.call_timeout)
            version = answer.get("listVersion", answer.get("versionNumber", 0))
        known = previous.entries if previous is not None and previous.version == version and version > 0 else None
        log.info("local_list_station", station_id=conn.station_id, enabled=limits.enabled,
                 max_entries=limits.max_entries, per_message=limits.per_message, version=version)
        return ListState(conn.connection_id, limits, version, known)

    async def _limits(self, conn: StationConnection) -> Limits:
        if conn.protocol == V16:
            answer = await conn.call("GetConfiguration", {"key": [
                "LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength"]}, self.call_timeout)
            values = {k["key"]: k.get("value") for k in answer.get("configurationKey", [])}
            enabled = str(values.get("LocalAuthListEnabled", "false")).lower() == "true"
            return Limits(enabled, _int(values.get("LocalAuthListMaxLength"), self.default_max_entries),
                          max(1, _int(values.get("SendLocalListMaxLength"), self.default_per_message)))
        names = [("Enabled", "Actual"), ("Entries", "MaxSet"), ("ItemsPerMessage", "Actual"),
                 ("BytesPerMessage", "Actual")]
        answer = await conn.call("GetVariables", {"getVariableData": [
            {"component": {"name": "LocalAuthListCtrlr"}, "variable": {"name": n}, "attributeType": t}
            for n, t in names]}, self.call_timeout)
        values = {r["variable"]["name"]: r.get("attributeValue") for r in answer.get("getVariableResult", [])
                  if r.get("attributeStatus") == "Accepted"}
        return Limits(str(values.get("Enabled", "false")).lower() == "true",
                      _int(values.get("Entries"), self.default_max_entries),
                      max(1, _int(values.get("ItemsPerMessage"), self.default_per_message)),
                      _int(values.get("BytesPerMessage"), None))

    async def _send(self, conn: StationConnection, state: ListState, wanted: dict[str, dict[str, Any]],
                    version: int, *, full: bool) -> dict[str, Any]:
        if full:
            items = list(wanted.values())
        else:
            held = state.entries or {}
            items = [removal(conn.protocol, data) for key, data in held.items() if key not in wanted]
            items += [data for key, data in wanted.items() if held.get(key) != data]
        parts = chunks(items, state.limits.per_message, state.limits.bytes_per_message)
        state.entries = None  # unknown until the last chunk is accepted
        status = "Accepted"
        for i, part in enumerate(parts):
            update = "Full" if full and i == 0 else "Differential"
            chunk_version = version if i == len(parts) - 1 else interim_version(version, i)
            answer = await conn.call("SendLocalList", self._payload(conn.protocol, update, chunk_version, part),
                                     self.call_timeout)
            status = answer.get("status", "Failed")
            MESSAGES.labels(update, status).inc()
            if status != "Accepted":
                log.info("local_list_refused", station_id=conn.station_id, status=status, update=update, chunk=i)
                state.version = -1  # forces a version check: the next sync sends a Full update
                return {"status": status, "listVersion": chunk_version, "entries": len(wanted), "messages": i + 1}
            state.version = chunk_version
        state.entries = wanted
        log.info("local_list_synced", station_id=conn.station_id, full=full, entries=len(wanted), changes=len(items),
                 messages=len(parts), version=version)
        return {"status": status, "listVersion": version, "entries": len(wanted), "messages": len(parts),
                "updateType": "Full" if full else "Differential"}

    @staticmethod
    def _payload(protocol: str, update: str, version: int, items: list[dict[str, Any]]) -> dict[str, Any]:
        if protocol == V16:
            payload: dict[str, Any] = {"listVersion": version, "updateType": update}
            if items:
                payload["localAuthorizationList"] = items
            return payload
        payload = {"versionNumber": version, "updateType": update}
        if items:
            payload["localAuthorizationList"] = items
        return payload
