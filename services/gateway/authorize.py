"""Token authorisation: one decision per presented token, taken from the catalog index.

`Authorizer.decide` is the seam for real-time authorisation (issue 9): a token the index marks
`whitelist: NEVER` (or does not know) is what a `RealtimeAuthorizer` would ask the eMSP about via
auth-requests / auth-responses; without one, the index decision stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
                        evse_id: int | None) -> tuple[str, str | None] | None: ...


@dataclass
class Authorizer:
    index: CatalogIndex
    realtime: RealtimeAuthorizer | None = None

    async def decide(self, station_id: str, id_token: str, token_type: str | None = None,
                     evse_id: int | None = None) -> AuthDecision:
        # 2.0.1 types are ISO14443, eMAID, Central, …; OCPI types RFID, APP_USER, …: match by uid.
        token = self.index.token(id_token)
        base = dict(id_token=id_token, token_type=token_type, evse_id=evse_id)
        if token is not None and token.valid and token.whitelist != "NEVER":
            return AuthDecision(**base, status="Accepted", decided_by="index", group_id=token.group_id,
                                token_key=_key(token))
        if token is not None and not token.valid:
            return AuthDecision(**base, status="Blocked", decided_by="index", token_key=_key(token))
        if self.realtime is not None:
            answer = await self.realtime.authorize(station_id, id_token, token_type, evse_id)
            if answer is not None:
                allowed, reference = answer
                return AuthDecision(**base, status=FROM_OCPI_ALLOWED.get(allowed, "Invalid"),
                                    decided_by="realtime", authorization_reference=reference,
                                    token_key=_key(token) if token else None)
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
