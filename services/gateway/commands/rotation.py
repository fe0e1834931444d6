"""Credential rotation (`rotate_key`): the gateway generates the station's new AuthorizationKey
itself, sets it on the charger, and publishes only its salted hash, only once the charger
accepted it.

- 1.6 (security whitepaper): ChangeConfiguration AuthorizationKey;
  2.0.1 (A01): SetVariables SecurityCtrlr.BasicAuthPassword.
- Accepted -> a `station-credentials` record `station/rotation` (owner `rotation`,
  `replaces_hash` = the hash it supersedes). The index prefers it over the catalog's, and a
  `catalog apply` never touches it. The charger keeps its connection; from its next connection
  on, only the new key is accepted.
- Anything else -> nothing is published, the old key stays valid.
The key lives only in this coroutine and in the CALL to the charger (redacted by the frame tap);
it is never logged, never in an event, never in the result.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.catalog.credentials import hash_key, new_key
from libs.catalog.index import CatalogIndex
from libs.catalog.models import ROTATION_OWNER, CredentialRecord, credential_key
from libs.events.envelope import Source, utcnow
from libs.events.reference import CredentialPublished
from services.gateway.commands.args import Args, BadArgs
from services.gateway.commands.mapping import status_of
from services.gateway.commands.target import Target
from services.gateway.connection import StationConnection
from services.gateway.errors import V16

log = structlog.get_logger("gateway.commands.rotation")
ACCEPTED = ("Accepted", "RebootRequired")  # RebootRequired: the new key applies after a reboot


def set_key_call(protocol: str, key: str) -> tuple[str, dict[str, Any]]:
    if protocol == V16:
        return "ChangeConfiguration", {"key": "AuthorizationKey", "value": key}
    # attributeValue first: the frame tap's redaction matches this shape
    return "SetVariables", {"setVariableData": [{
        "attributeValue": key, "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]}


class KeyRotation:
    def __init__(self, index: CatalogIndex, sink) -> None:
        self.index = index
        self.sink = sink

    async def __call__(self, conn: StationConnection, target: Target, args: Args, timeout: float) -> dict[str, Any]:
        current = self.index.credential(conn.station_id)
        if current is None or current.security_profile not in (1, 2):
            raise BadArgs("rotate_key applies to stations with Basic auth (security profile 1 or 2)")
        key = new_key()
        action, payload = set_key_call(conn.protocol, key)
        response = await conn.call(action, payload, timeout)
        status = status_of(response)
        if status in ACCEPTED:
            now = utcnow()
            record = CredentialRecord(
                record_key=credential_key(conn.station_id, ROTATION_OWNER), owner=ROTATION_OWNER,
                last_updated=now, station_id=conn.station_id, security_profile=current.security_profile,
                authorization_key_hash=hash_key(key), replaces_hash=current.authorization_key_hash)
            await self.sink.publish([CredentialPublished.create(
                payload=record, source=Source.ROTATION, station_id=conn.station_id, occurred_at=now, received_at=now)])
            log.info("key_rotated", station_id=conn.station_id, command_id=target.command_id)
        else:
            log.warning("key_rotation_refused", station_id=conn.station_id, status=status)
        return response
