"""Response envelope, errors, authorisation and pagination shared by every OCPI router.

transport_and_format.asciidoc: every response is {data, status_code, status_message, timestamp};
errors on the HTTP layer use HTTP codes *and* the envelope; `Authorization: Token <base64>`
(2.2.1), a missing or unknown token is HTTP 401; a token A only opens versions and credentials.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from libs.ocpi.status import OcpiStatus
from libs.ocpi.types import format_datetime
from services.ocpi.db import Partner, naive_utc

JSON = "application/json"


def envelope_bytes(data: Any, status_code: int = OcpiStatus.SUCCESS, message: str | None = None,
                   raw_data: bytes | None = None) -> bytes:
    """The OCPI envelope; `raw_data` is already-encoded JSON for `data` (stored objects)."""
    head = {"status_code": int(status_code)}
    if message:
        head["status_message"] = message
    head["timestamp"] = format_datetime(datetime.now(UTC))
    if raw_data is None:
        if data is None:
            return orjson.dumps(head)
        return orjson.dumps({"data": data, **head})
    return b'{"data":' + raw_data + b"," + orjson.dumps(head)[1:]


def ocpi_response(data: Any = None, *, status_code: int = OcpiStatus.SUCCESS, message: str | None = None,
                  http_status: int = 200, headers: dict[str, str] | None = None,
                  raw_data: bytes | None = None) -> Response:
    return Response(envelope_bytes(data, status_code, message, raw_data), status_code=http_status,
                    media_type=JSON, headers=headers)


class OcpiError(Exception):
    """Answered as HTTP `http_status` with OCPI `status_code` in the envelope."""

    def __init__(self, http_status: int, status_code: int, message: str):
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message


def unauthorized(message: str = "missing or unknown credentials token") -> OcpiError:
    return OcpiError(401, OcpiStatus.CLIENT_ERROR, message)


def bad_request(message: str) -> OcpiError:
    return OcpiError(400, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, message)


# --- authorisation ---------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"^Token\s+(\S+)\s*$", re.IGNORECASE)


def token_candidates(header: str | None) -> list[str]:
    """The credentials token(s) an Authorization header may carry: base64-decoded (2.2.1 says
    "It contains the 'credentials token' Base64 encoded") and, for older peers, as sent."""
    if not header:
        return []
    m = _TOKEN_RE.match(header)
    if m is None:
        return []
    raw = m.group(1)
    out = []
    try:
        decoded = base64.b64decode(raw, validate=True).decode("ascii")
        if decoded and decoded.isprintable():
            out.append(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    out.append(raw)
    return out


def encode_token(token: str) -> str:
    return "Token " + base64.b64encode(token.encode("ascii")).decode("ascii")


@dataclass
class PartyRef:
    country_code: str
    party_id: str

    def matches(self, cc: str | None, pid: str | None) -> bool:
        return (cc or "").upper() == self.country_code.upper() and (pid or "").upper() == self.party_id.upper()


@dataclass
class PartnerContext:
    partner: Partner
    roles: list[dict]
    # The requesting party (OCPI-from headers) when given, else None (any of the partner's roles).
    from_party: PartyRef | None

    @property
    def is_hub(self) -> bool:
        return any(r.get("role") == "HUB" for r in self.roles)

    def owns(self, cc: str | None, pid: str | None) -> bool:
        """May this partner see an object belonging to (cc, pid)? Hubs see everything."""
        if self.is_hub:
            return True
        if self.from_party is not None:
            return self.from_party.matches(cc, pid)
        return any(PartyRef(r["country_code"], r["party_id"]).matches(cc, pid) for r in self.roles)

    def party_filter(self) -> list[tuple[str, str]] | None:
        """(cc, pid) pairs whose sessions/CDRs this partner sees; None = all (hub)."""
        if self.is_hub:
            return None
        if self.from_party is not None:
            return [(self.from_party.country_code.upper(), self.from_party.party_id.upper())]
        return [(r["country_code"].upper(), r["party_id"].upper()) for r in self.roles]


# Token → partner lookups are cached this long (a revoked token stops working within it; the
# credentials module clears the cache itself on every change made through this process).
TOKEN_CACHE_S = 1.0


async def find_partner(request: Request) -> Partner | None:
    header = request.headers.get("authorization")
    candidates = token_candidates(header)
    if not candidates:
        return None
    cache: dict = request.app.state.token_cache
    hit = cache.get(header)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TOKEN_CACHE_S:
        return hit[1]
    sm = request.app.state.sessionmaker
    async with sm() as db:
        rows = (await db.execute(select(Partner).where(Partner.token_in.in_(candidates)))).scalars().all()
    partner = rows[0] if rows else None
    if partner is not None and partner.state == "registered":  # only settled connections are cached
        if len(cache) > 10_000:
            cache.clear()
        cache[header] = (now, partner)
    return partner


def _from_party(request: Request) -> PartyRef | None:
    cc = request.headers.get("ocpi-from-country-code")
    pid = request.headers.get("ocpi-from-party-id")
    if cc is None and pid is None:
        return None
    if not cc or not pid or len(cc) != 2 or len(pid) != 3:
        raise bad_request("OCPI-from-country-code (2) and OCPI-from-party-id (3) must be given together")
    return PartyRef(cc, pid)


def _check_to_party(request: Request) -> None:
    cc = request.headers.get("ocpi-to-country-code")
    pid = request.headers.get("ocpi-to-party-id")
    if cc is None and pid is None:
        return
    settings = request.app.state.settings
    if not PartyRef(settings.country_code, settings.party_id).matches(cc, pid):
        raise bad_request(f"OCPI-to {cc}/{pid} is not a party on this platform")


async def any_partner(request: Request) -> PartnerContext:
    """Versions and credentials: any known token, including a token A (invited partner)."""
    partner = await find_partner(request)
    if partner is None:
        raise unauthorized()
    _check_to_party(request)
    roles = orjson.loads(partner.roles or "[]")
    return PartnerContext(partner, roles, _from_party(request) if roles else None)


async def registered_partner(request: Request) -> PartnerContext:
    """Every other module: only a registered partner (a token A gets 401, transport_and_format)."""
    ctx = await any_partner(request)
    if ctx.partner.state != "registered":
        raise unauthorized("this credentials token may only be used for versions and credentials")
    if ctx.from_party is not None and not ctx.is_hub and not any(
        ctx.from_party.matches(r.get("country_code"), r.get("party_id")) for r in ctx.roles
    ):
        raise unauthorized("OCPI-from party is not one of this connection's roles")
    return ctx


# --- pagination --------------------------------------------------------------------------------

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$"
)


def parse_datetime_param(name: str, value: str | None) -> datetime | None:
    """OCPI DateTime query parameter. Lenient on input: an explicit UTC offset (+00:00 or any
    other) is accepted and converted, since many peers send one; no designator means UTC."""
    if value is None:
        return None
    m = _DT_RE.match(value.strip())
    if m is None:
        raise bad_request(f"{name} must be an RFC 3339 DateTime, e.g. 2015-06-29T20:39:09Z")
    text = value.strip().replace("Z", "+00:00")
    if m.group(8) is None:
        text += "+00:00"
    if m.group(7) and len(m.group(7)) > 7:  # fromisoformat takes at most 6 fraction digits
        text = text.replace(m.group(7), m.group(7)[:7])
    try:
        return naive_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise bad_request(f"{name}: {exc}") from None


@dataclass
class Page:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    raw_filters: dict[str, str]


def page_params(request: Request, offset: int, limit: int | None, date_from: str | None,
                date_to: str | None) -> Page:
    max_limit = request.app.state.settings.max_page_limit
    filters = {}
    if date_from is not None:
        filters["date_from"] = date_from
    if date_to is not None:
        filters["date_to"] = date_to
    return Page(
        offset=offset,
        limit=max_limit if limit is None else min(limit, max_limit),
        date_from=parse_datetime_param("date_from", date_from),
        date_to=parse_datetime_param("date_to", date_to),
        raw_filters=filters,
    )


def page_response(request: Request, page: Page, total: int, docs: list[str]) -> Response:
    """A page: data (stored OCPI JSON), X-Total-Count, X-Limit, and Link rel="next" unless last."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(page.limit)}
    next_offset = page.offset + len(docs)
    if docs and next_offset < total:
        settings = request.app.state.settings
        query = urlencode({"offset": next_offset, "limit": page.limit, **page.raw_filters})
        # the scope's path, not request.url (which re-parses the whole URL): list routes are plain ASCII
        headers["Link"] = f'<{settings.public_url.rstrip("/")}{request.scope["path"]}?{query}>; rel="next"'
    raw = ("[" + ",".join(docs) + "]").encode()
    return ocpi_response(raw_data=raw, headers=headers)


def new_request_id() -> str:
    return str(uuid.uuid4())
