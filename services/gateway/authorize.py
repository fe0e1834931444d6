"""Token authorisation: one decision per presented token, taken from the catalog index.

Whitelist rules (mod_tokens.asciidoc WhitelistType; docs/ocpi-receiver.md), with a
`RealtimeAuthorizer` (services/gateway/realtime.py) configured:
- a token a remote start / reservation was sent for at this station (last 15 min): Accepted,
  never asked again (mod_commands StartSession), with the command's authorization_reference;
- ALWAYS: the index decides (valid → Accepted, else Blocked), never asked;
- ALLOWED: the index, or asked first when `realtime_for_allowed`;
- ALLOWED_OFFLINE: asked; without an answer in time the index decides;
- NEVER: asked; without an answer: Invalid ("only realtime authorization is allowed");
- an unknown uid: asked (the OCPI adapter knows whether a hub or default eMSP can answer);
  without an answer: Unknown. The validity of a token does not skip the real-time check.
Without a RealtimeAuthorizer the index decides and NEVER is Invalid.

Authorisation cache: a charger keeps Accepted answers in its cache (1.6 AuthorizationCache, 2.0.1
AuthCacheCtrlr) and may answer the next presentation from it without asking us. An Accepted token
that must be checked again next time (one asked in real time per its whitelist, an unknown uid,
a remote start's token, which authorises that one session) gets an expiry of now (1.6 expiryDate,
2.0.1 cacheExpiryDateTime: "the date at which idTag should be removed from the Authorization
Cache"), so the charger asks again instead of answering from its cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from libs.catalog.index import CatalogIndex
from libs.events.station import AuthDecision
from services.gateway.errors import V16

# version-neutral decision -> OCPP 1.6 AuthorizationStatus (1.6 has no NoCredit/NotAtThisLocation)
V16_STATUS = {
    "Accepted": "Accepted", "Blocked": "Blocked", "Expired": "Expired", "Invalid": "Invalid",
    "ConcurrentTx": "ConcurrentTx", "Unknown": "Invalid", "NoCredit": "Invalid",
    "NotAtThisLocation": "Invalid", "NotAllowedTypeEVSE": "Invalid", "NotAtThisTime": "Invalid",
}
# OCPI 2.2.1 AllowedType (real-time answer) -> 2.0.1 AuthorizationStatusEnumType
FROM_OCPI_ALLOWED = {
    "ALLOWED": "Accepted", "BLOCKED": "Blocked", "EXPIRED": "Expired", "NO_CREDIT": "NoCredit",
    "NOT_ALLOWED": "NotAtThisLocation",
}


class RealtimeAuthorizer(Protocol):
    """Issue 9 plugs in here: ask the token's eMSP; None means no answer in time."""

    async def authorize(self, station_id: str, id_token: str, token_type: str | None,
                        evse_id: int | None, token_key: str | None = None) -> tuple[str, str | None] | None: ...


class RemoteStartMemory(Protocol):
    """Tokens a remote start was sent for (services/gateway/remote_starts.py)."""

    def match(self, station_id: str, id_token: str): ...


ASKED = {"NEVER", "ALLOWED_OFFLINE"}


@dataclass
class Authorizer:
    index: CatalogIndex
    realtime: RealtimeAuthorizer | None = None
    remote_starts: RemoteStartMemory | None = None
    realtime_for_allowed: bool = False

    async def decide(self, station_id: str, id_token: str, token_type: str | None = None,
                     evse_id: int | None = None) -> AuthDecision:
        # 2.0.1 types are ISO14443, eMAID, Central, …; OCPI types RFID, APP_USER, …: match by uid.
        token = self.index.token(id_token)
        decision = await self._decide(token, station_id, id_token, token_type, evse_id)
        # the next presentation must reach us, not the charger's cache (module docstring)
        if decision.status == "Accepted" and (
                decision.decided_by in ("realtime", "remote_start") or self._asks_realtime(token)):
            decision = decision.model_copy(update={"expires_at": datetime.now(UTC)})
        return decision

    def _asks_realtime(self, token) -> bool:
        """Whether this token is checked with its eMSP first (its whitelist; an unknown uid)."""
        if self.realtime is None:
            return False
        whitelist = str(token.whitelist) if token is not None else None
        return token is None or whitelist in ASKED or (whitelist == "ALLOWED" and self.realtime_for_allowed)

    async def _decide(self, token, station_id: str, id_token: str, token_type: str | None,
                      evse_id: int | None) -> AuthDecision:
        base = dict(id_token=id_token, token_type=token_type, evse_id=evse_id)
        if self.remote_starts is not None:
            started = self.remote_starts.match(station_id, id_token)
            if started is not None:
                return AuthDecision(**base, status="Accepted", decided_by="remote_start",
                                    authorization_reference=started.authorization_reference,
                                    group_id=token.group_id if token else None,
                                    token_key=_key(token) if token else None)
        if self._asks_realtime(token):
            whitelist = str(token.whitelist) if token is not None else None
            answer = await self.realtime.authorize(station_id, token.uid if token else id_token, token_type,
                                                   evse_id, token_key=_key(token) if token else None)
            if answer is not None:
                allowed, reference = answer
                return AuthDecision(**base, status=FROM_OCPI_ALLOWED.get(allowed, "Invalid"),
                                    decided_by="realtime", authorization_reference=reference,
                                    group_id=token.group_id if token and allowed == "ALLOWED" else None,
                                    token_key=_key(token) if token else None)
            if token is None:
                return AuthDecision(**base, status="Unknown", decided_by="fallback")
            if whitelist == "NEVER":
                return AuthDecision(**base, status="Invalid", decided_by="fallback", token_key=_key(token))
            if whitelist == "ALLOWED_OFFLINE":  # "the CPO shall allow this Token to be used"
                status = "Accepted" if token.valid else "Blocked"
                return AuthDecision(**base, status=status, decided_by="fallback", token_key=_key(token),
                                    group_id=token.group_id if token.valid else None)
        if token is not None and token.valid and token.whitelist != "NEVER":
            return AuthDecision(**base, status="Accepted", decided_by="index", group_id=token.group_id,
                                token_key=_key(token))
        if token is not None and not token.valid:
            return AuthDecision(**base, status="Blocked", decided_by="index", token_key=_key(token))
        if token is not None:  # whitelist NEVER and nobody to ask
            return AuthDecision(**base, status="Invalid", decided_by="fallback", token_key=_key(token))
        return AuthDecision(**base, status="Unknown", decided_by="index")


def _key(token) -> str:
    return f"{token.country_code}/{token.party_id}/{token.uid}/{token.type}"


def id_tag_info(decision: AuthDecision) -> dict:
    """OCPP 1.6 IdTagInfo (camelCase, as sent)."""
    info: dict = {"status": V16_STATUS.get(decision.status, "Invalid")}
    if decision.group_id:
        info["parentIdTag"] = decision.group_id[:20]
    if decision.expires_at:
        info["expiryDate"] = _iso(decision.expires_at)
    return info


def id_token_info(decision: AuthDecision) -> dict:
    """OCPP 2.0.1 IdTokenInfoType (camelCase, as sent)."""
    info: dict = {"status": decision.status}
    if decision.group_id:
        info["groupIdToken"] = {"idToken": decision.group_id, "type": "Central"}
    if decision.expires_at:
        info["cacheExpiryDateTime"] = _iso(decision.expires_at)
    return info


def answer_for(protocol: str, decision: AuthDecision) -> dict:
    return id_tag_info(decision) if protocol == V16 else id_token_info(decision)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
