"""Partner registry and the credentials handshake in both directions (credentials.asciidoc).

- They register with us: `invite` gives a token A; they GET our versions with it and POST their
  credentials (token B); we fetch their versions/endpoints with B and answer with token C.
- We register with them: with their token A we fetch their versions/endpoints, POST our
  credentials (our token B, which they then use to call us) and keep the token C they return.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.ocpi.models import Credentials, Version, VersionDetails
from libs.ocpi.status import OcpiStatus
from services.ocpi.client import OcpiClient
from services.ocpi.db import Partner, now_naive
from services.ocpi.settings import OcpiSettings

OCPI_VERSION = "2.2.1"


def new_token() -> str:
    # 43 URL-safe characters: printable ASCII without whitespace, within Credentials.token's 64.
    return secrets.token_urlsafe(32)


class RegistrationError(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def our_roles(settings: OcpiSettings) -> list[dict]:
    details = {"name": settings.business_name}
    if settings.business_website:
        details["website"] = settings.business_website
    return [{"role": "CPO", "business_details": details, "party_id": settings.party_id,
             "country_code": settings.country_code}]


def our_credentials(settings: OcpiSettings, token: str) -> dict:
    return Credentials(token=token, url=f"{settings.base_url}/versions", roles=our_roles(settings)).to_ocpi()


async def invite(db: AsyncSession, name: str) -> Partner:
    partner = Partner(name=name, state="invited", token_in=new_token())
    db.add(partner)
    await db.flush()
    return partner


@dataclass
class PeerEndpoints:
    version: str
    endpoints: list[dict]


async def fetch_endpoints(client: OcpiClient, versions_url: str, token: str) -> PeerEndpoints:
    """GET their versions, pick 2.2.1, GET its details. 3001 when they cannot be used, 3002 when
    there is no 2.2.1, 3003 when the details lack the credentials endpoint."""
    try:
        reply = await client.request("GET", versions_url, token)
    except Exception as exc:  # noqa: BLE001 - any transport failure is 3001 to the caller
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"GET {versions_url} failed: {exc!r}") from None
    if not reply.ok or not isinstance(reply.body.get("data"), list):
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"GET {versions_url}: {reply.describe()}")
    try:
        versions = [Version.model_validate(v) for v in reply.body["data"]]
    except ValidationError as exc:
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"bad versions list: {exc.errors()[:2]}") from None
    chosen = next((v for v in versions if str(v.version) == OCPI_VERSION), None)
    if chosen is None:
        raise RegistrationError(OcpiStatus.UNSUPPORTED_VERSION, f"no mutual version ({OCPI_VERSION} not offered)")
    try:
        reply = await client.request("GET", chosen.url, token)
    except Exception as exc:  # noqa: BLE001
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"GET {chosen.url} failed: {exc!r}") from None
    if not reply.ok:
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"GET {chosen.url}: {reply.describe()}")
    try:
        details = VersionDetails.model_validate(reply.body.get("data"))
    except ValidationError as exc:
        raise RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"bad version details: {exc.errors()[:2]}") from None
    endpoints = [e.to_ocpi() for e in details.endpoints]
    if not any(e["identifier"] == "credentials" for e in endpoints):
        raise RegistrationError(OcpiStatus.NO_MATCHING_ENDPOINTS, "no credentials endpoint in version details")
    return PeerEndpoints(OCPI_VERSION, endpoints)


def _apply_peer(partner: Partner, creds: Credentials, peer: PeerEndpoints) -> None:
    partner.token_out = creds.token
    partner.versions_url = creds.url
    partner.version = peer.version
    partner.endpoints = orjson.dumps(peer.endpoints).decode()
    partner.roles = orjson.dumps([r.to_ocpi() for r in creds.roles]).decode()
    partner.updated_at = now_naive()
    if partner.name.startswith("partner-") or not partner.name:
        biz = creds.roles[0].business_details.name
        partner.name = biz or partner.name


async def accept_registration(db: AsyncSession, client: OcpiClient, partner: Partner, creds: Credentials) -> str:
    """POST (first registration) or PUT (update) from the partner: returns the new token C."""
    peer = await fetch_endpoints(client, creds.url, creds.token)
    _apply_peer(partner, creds, peer)
    partner.token_in = new_token()
    partner.state = "registered"
    await db.flush()
    return partner.token_in


async def unregister(db: AsyncSession, partner: Partner) -> None:
    partner.state = "unregistered"
    partner.token_in = None
    partner.token_out = None
    partner.updated_at = now_naive()
    await db.flush()


async def register_with(sm, client: OcpiClient, settings: OcpiSettings, versions_url: str, token_a: str,
                        name: str) -> Partner:
    """We start the handshake towards a partner who gave us token A and their versions URL."""
    peer = await fetch_endpoints(client, versions_url, token_a)
    cred_url = next(e["url"] for e in peer.endpoints if e["identifier"] == "credentials")
    token_b = new_token()
    async with sm.begin() as db:  # B must be valid before the POST: they call our versions with it
        partner = Partner(name=name, state="registering", token_in=token_b, token_out=token_a,
                          versions_url=versions_url)
        db.add(partner)
        await db.flush()
        partner_id = partner.id
    reply = await client.request("POST", cred_url, token_a, json=our_credentials(settings, token_b))
    error: RegistrationError | None = None
    creds = None
    if not reply.ok:
        error = RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"POST {cred_url}: {reply.describe()}")
    else:
        try:
            creds = Credentials.model_validate(reply.body.get("data"))
        except ValidationError as exc:
            error = RegistrationError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, f"bad credentials answer: {exc.errors()[:2]}")
    async with sm.begin() as db:
        partner = await db.get(Partner, partner_id)
        if error is not None:
            partner.state = "unregistered"
            partner.token_in = None
        else:
            # From now on we call them with their token C, and they call us with our token B.
            _apply_peer(partner, Credentials(token=creds.token, url=versions_url, roles=creds.roles), peer)
            partner.state = "registered"
    if error is not None:
        raise error
    return partner


async def partners(db: AsyncSession) -> list[Partner]:
    return list((await db.execute(select(Partner).order_by(Partner.id))).scalars())


def receiver_url(partner: Partner, module: str) -> str | None:
    for e in orjson.loads(partner.endpoints or "[]"):
        if e.get("identifier") == module and e.get("role") == "RECEIVER":
            return e["url"].rstrip("/")
    return None
