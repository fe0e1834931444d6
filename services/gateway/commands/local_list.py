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

What goes in (OCPI 2.2.1 mod_tokens WhitelistType, docs/remote-management.md): valid tokens that
may be whitelisted AT THIS STATION, one per uid (the index's choice: the operator's own token
wins, then the most recent), ordered by priority (the operator's own tokens, then ALWAYS, then
ALLOWED_OFFLINE, then ALLOWED; by uid within a group) and capped at the station's capacity.
- ALWAYS and ALLOWED: everywhere (ALLOWED not where the charger pre-authorises when the gateway
  asks the eMSP for ALLOWED too, `realtime_for_allowed`);
- ALLOWED_OFFLINE ("in normal situations realtime authorization shall be used"): only where the
  charger does NOT pre-authorise locally, so it still asks us online and uses the list only
  offline: 1.6 LocalPreAuthorize = false; 2.0.1 AuthCtrlr.LocalPreAuthorize = false and not
  AuthCtrlr.DisableRemoteAuthorization = true. Unknown or unreadable counts as pre-authorising;
- NEVER ("whitelisting is forbidden"): nowhere.
The pre-authorisation setting is read per station (through the get_configuration mapping) on
every new connection, again every `preauth_refresh` seconds (a failed read sooner), and at once
after a set_configuration command for one of those keys (`command_done`).
1.6 stations get the short alias of uids longer than 20 characters. Updates are chunked by items
(and bytes for 2.0.1) per message; every chunk but the last carries an interim version.

Token changes are picked up by a periodic reconcile (`interval`) over the held stations: the
wanted list is computed once per protocol, capacity and pre-authorisation per round and compared
with what each station holds; nothing is sent when nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from prometheus_client import Counter

from libs.catalog.index import CatalogIndex, short_alias
from libs.catalog.models import CATALOG_OWNER, TokenRecord
from libs.events.control import CommandKind, CommandRequest
from services.gateway.commands.args import Args, GetConfiguration, SendLocalList
from services.gateway.commands.mapping import build_call
from services.gateway.commands.ocpp201 import FROM_OCPI_TYPE
from services.gateway.commands.target import Target
from services.gateway.connection import CallErrorReceived, StationConnection
from services.gateway.errors import V16, V201
from services.gateway.registry import ConnectionRegistry

log = structlog.get_logger("gateway.commands.local_list")
MESSAGES = Counter("voltstream_gateway_local_list_messages_total", "SendLocalList messages sent", ["update", "status"])


@dataclass(frozen=True)
class Limits:
    enabled: bool
    max_entries: int
    per_message: int
    bytes_per_message: int | None = None


# Local pre-authorisation: the charger accepts a token found in its list (or cache) while online
# without asking the CSMS. 2.0.1 DisableRemoteAuthorization = true: it never asks at all.
PREAUTH_16 = "LocalPreAuthorize"
PREAUTH_201 = "AuthCtrlr.LocalPreAuthorize"
NO_REMOTE_AUTH_201 = "AuthCtrlr.DisableRemoteAuthorization"
PREAUTH_KEYS = {V16: (PREAUTH_16,), V201: (PREAUTH_201, NO_REMOTE_AUTH_201)}
_WATCHED = {k.lower() for keys in PREAUTH_KEYS.values() for k in keys}
# 2.0.1 attribute statuses saying the variable does not exist (an optional one: its default applies)
_ABSENT_201 = {"UnknownComponent", "UnknownVariable", "NotSupportedAttributeType"}


@dataclass
class ListState:
    connection_id: str
    limits: Limits
    version: int  # what the station reported / last accepted
    entries: dict[str, dict[str, Any]] | None = None  # what the station holds; None = unknown
    pre_authorize: bool | None = None  # as last read; None = unknown / unreadable (treated as on)
    pre_authorize_at: float | None = None  # monotonic time of the last read attempt; None = read now
    pre_authorize_failed: bool = False  # the last read got no usable answer (retried sooner)

    @property
    def pre_authorizes(self) -> bool:
        """What the list content follows: only a charger known NOT to pre-authorise counts as off."""
        return self.pre_authorize is not False


def list_version(entries: dict[str, dict[str, Any]]) -> int:
    """Positive 31-bit hash of the list content (order-independent)."""
    digest = hashlib.sha256(orjson.dumps(entries, option=orjson.OPT_SORT_KEYS)).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def interim_version(final: int, chunk: int) -> int:
    digest = hashlib.sha256(f"{final}/{chunk}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def _bool(value: Any) -> bool | None:
    text = str(value).strip().lower() if value is not None else ""
    return True if text == "true" else False if text == "false" else None


def pre_authorize_of(protocol: str, answer: dict[str, Any]) -> bool | None:
    """Whether the charger pre-authorises locally, from its answer to the PREAUTH_KEYS read
    (1.6 GetConfiguration / 2.0.1 GetVariables); None when unknown (missing, unreadable, not a
    boolean)."""
    if protocol == V16:
        values = {str(k.get("key", "")).lower(): k.get("value") for k in answer.get("configurationKey") or []}
        return _bool(values.get(PREAUTH_16.lower()))
    results = {(r.get("component", {}).get("name"), r.get("variable", {}).get("name")): r
               for r in answer.get("getVariableResult") or []}

    def read(key: str, absent: bool | None) -> bool | None:
        result = results.get(tuple(key.split(".")))
        if result is None:
            return None
        status = result.get("attributeStatus")
        if status == "Accepted":
            return _bool(result.get("attributeValue"))
        return absent if status in _ABSENT_201 else None

    never_asks = read(NO_REMOTE_AUTH_201, absent=False)  # optional variable: absent = it does ask
    if never_asks is not False:
        return True if never_asks else None  # true: only its list and cache decide, like pre-authorising
    return read(PREAUTH_201, absent=None)  # required variable: absent = unknown


def listable(whitelist: str, pre_authorizes: bool, realtime_for_allowed: bool = False) -> bool:
    """May a token of this whitelist type be in the list of a station that does (not) pre-authorise?
    OCPI 2.2.1 WhitelistType: ALWAYS "always has to be whitelisted"; ALLOWED "allowed to whitelist";
    ALLOWED_OFFLINE "in normal situations realtime authorization shall be used" (so only in a list
    the charger consults offline only); NEVER "whitelisting is forbidden"."""
    if whitelist == "ALWAYS":
        return True
    if whitelist == "ALLOWED":
        return not (realtime_for_allowed and pre_authorizes)
    if whitelist == "ALLOWED_OFFLINE":
        return not pre_authorizes
    return False  # NEVER, or a type we do not know


WHITELIST_PRIORITY = {"ALWAYS": 1, "ALLOWED_OFFLINE": 2, "ALLOWED": 3}


def priority(record: TokenRecord) -> tuple[int, str]:
    """The operator's own tokens, then ALWAYS ("CPO shall always allow"), ALLOWED_OFFLINE (shall be
    allowed when the eMSP cannot be reached, which an offline charger cannot), ALLOWED ("may")."""
    own = record.owner == CATALOG_OWNER
    return (0 if own else WHITELIST_PRIORITY.get(str(record.token.whitelist), 4), record.token.uid)


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


def wanted_list(index: CatalogIndex, protocol: str, capacity: int, *, pre_authorizes: bool = True,
                realtime_for_allowed: bool = False) -> dict[str, dict[str, Any]]:
    chosen = []
    for record in index.tokens():
        token = record.token
        if not token.valid or not listable(str(token.whitelist), pre_authorizes, realtime_for_allowed):
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
                 default_max_entries: int = 1000, default_per_message: int = 100, concurrency: int = 10,
                 preauth_refresh: float = 300.0, realtime_for_allowed: bool = False):
        self.index = index
        self.registry = registry
        self.interval = interval
        self.call_timeout = call_timeout
        self.default_max_entries = default_max_entries
        self.default_per_message = default_per_message
        self.preauth_refresh = preauth_refresh  # seconds between reads of a station's pre-authorisation
        # the gateway asks the eMSP for ALLOWED tokens too: list them only where the charger asks us
        self.realtime_for_allowed = realtime_for_allowed
        self.states: dict[str, ListState] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one sync at a time per station
        self._gate = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task | None = None
        self._soon: set[asyncio.Task] = set()  # syncs started by command_done

    # --- background reconcile ------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="local-list-sync")

    async def stop(self) -> None:
        tasks = [*self._soon, *([self._task] if self._task else [])]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- other commands' effects (the command consumer calls this after every command) ------
    def command_done(self, conn: StationConnection, cmd: CommandRequest) -> None:
        """A set_configuration of a pre-authorisation key (whatever the charger answered, even
        none: it may have applied it) makes the cached value stale; with the reconcile running,
        the station is synced at once, so a list never keeps ALLOWED_OFFLINE tokens for a
        reconcile round after local pre-authorisation was switched on through us."""
        if cmd.kind != CommandKind.SET_CONFIGURATION or str(cmd.args.get("key", "")).lower() not in _WATCHED:
            return
        state = self.states.get(conn.station_id)
        if state is not None:
            state.pre_authorize_at = None
        log.info("local_list_pre_authorize_changed", station_id=conn.station_id, key=cmd.args.get("key"))
        if self._task is not None:
            task = asyncio.create_task(self._sync_quietly(conn, {}), name=f"local-list-{conn.station_id}")
            self._soon.add(task)
            task.add_done_callback(self._soon.discard)

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
        """Bring the station's list to the wanted one; returns a summary with the last status and
        the station's local pre-authorisation as read (None: unknown, treated as on)."""
        async with self._locks.setdefault(conn.station_id, asyncio.Lock()):
            state = self.states.get(conn.station_id)
            if state is None or state.connection_id != conn.connection_id:
                state = await self._connect(conn, state)
                self.states[conn.station_id] = state
            if not state.limits.enabled:
                return {"status": "NotSupported"}
            if self._preauth_due(state):
                await self._read_pre_authorize(conn, state)
            key = (conn.protocol, state.limits.max_entries, state.pre_authorizes)
            wanted = cache.get(key) if cache is not None else None
            if wanted is None:
                wanted = wanted_list(self.index, conn.protocol, state.limits.max_entries,
                                     pre_authorizes=state.pre_authorizes,
                                     realtime_for_allowed=self.realtime_for_allowed)
                if cache is not None:
                    cache[key] = wanted
            version = list_version(wanted)
            if not full and state.version == version:
                state.entries = wanted
                result = {"status": "Accepted", "listVersion": version, "entries": len(wanted), "messages": 0}
            elif full or state.entries is None:
                result = await self._send(conn, state, wanted, version, full=True)
            else:
                result = await self._send(conn, state, wanted, version, full=False)
                if result["status"] == "VersionMismatch":
                    result = await self._send(conn, state, wanted, version, full=True)
            return {**result, "localPreAuthorize": state.pre_authorize}

    def _preauth_due(self, state: ListState) -> bool:
        if state.pre_authorize_at is None:
            return True
        wait = min(self.preauth_refresh, 60.0) if state.pre_authorize_failed else self.preauth_refresh
        return time.monotonic() - state.pre_authorize_at >= wait

    async def _read_pre_authorize(self, conn: StationConnection, state: ListState) -> None:
        """Read the station's local pre-authorisation through the get_configuration mapping.
        No usable answer (CALLERROR, timeout, unknown key, not a boolean) -> None (counts as on)."""
        first = state.pre_authorize_at is None  # new connection, or after a set_configuration
        state.pre_authorize_at = time.monotonic()
        action, payload = build_call(conn.protocol, CommandKind.GET_CONFIGURATION,
                                     GetConfiguration(keys=list(PREAUTH_KEYS[conn.protocol])),
                                     Target(conn.station_id, "local-list", self.index))
        try:
            value = pre_authorize_of(conn.protocol, await conn.call(action, payload, self.call_timeout))
            failed = False
        except ConnectionError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable is a value here: unknown, so on
            log.info("local_list_pre_authorize_unreadable", station_id=conn.station_id, error=repr(exc)[:200])
            value, failed = None, True
        if first or value != state.pre_authorize or state.pre_authorize_failed != failed:
            log.info("local_list_pre_authorize", station_id=conn.station_id, local_pre_authorize=value,
                     read_failed=failed, allowed_offline_listed=value is False)
        state.pre_authorize, state.pre_authorize_failed = value, failed

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
