"""tokens module, Receiver interface (mod_tokens.asciidoc): the eMSP pushes its tokens.

`{tokens}/{country_code}/{party_id}/{token_uid}[?type=]`, type defaulting to RFID. GET returns
the token as stored, PUT replaces it, PATCH changes some fields (SHALL carry `last_updated`).
A partner only reads and writes tokens of its own roles (country_code/party_id) — a hub of any —
and never a record another connection (or the operator's catalog) owns: 401.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from libs.ocpi.models import Token
from libs.ocpi.status import OcpiStatus
from libs.ocpi.types import TokenType
from services.ocpi.api.common import (
    OcpiError,
    PartnerContext,
    bad_request,
    ocpi_response,
    registered_partner,
    unauthorized,
)
from services.ocpi.tokens import PartnerTokens, partner_owner

router = APIRouter(tags=["tokens"])
PATH = "/ocpi/cpo/2.2.1/tokens/{country_code}/{party_id}/{token_uid}"
IDENTITY_FIELDS = ("country_code", "party_id", "uid", "type")


def _store(request: Request) -> PartnerTokens:
    return request.app.state.partner_tokens


def _params(ctx: PartnerContext, country_code: str, party_id: str, token_uid: str, type_: str | None) -> str:
    """Check the URL segments; returns the token type (default RFID)."""
    if len(country_code) != 2 or len(party_id) != 3 or not 0 < len(token_uid) <= 36 \
            or not token_uid.isascii() or not token_uid.isprintable():
        raise bad_request("country_code (2), party_id (3) and token_uid (at most 36 printable ASCII) are required")
    token_type = type_ or TokenType.RFID.value
    if token_type not in TokenType.__members__:
        raise bad_request(f"type must be one of {', '.join(TokenType.__members__)}")
    if not ctx.owns(country_code, party_id):
        raise unauthorized(f"{country_code}/{party_id} is not a party of this connection")
    return token_type


def _invalid(message: str) -> OcpiError:
    # status_codes.asciidoc: valid JSON addressing an existing resource gets no HTTP error
    return OcpiError(200, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, message)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _invalid("the body must be a Token object")
    return body


def _validate(doc: dict[str, Any]) -> Token:
    try:
        return Token.model_validate(doc)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise _invalid(f"not a valid Token: {errs}") from None


def _check_identity(token: Token, country_code: str, party_id: str, uid: str, token_type: str) -> None:
    # mod_tokens PUT: country_code / party_id "SHALL be the same value as ... in the Token object"
    if (token.country_code.upper(), token.party_id.upper(), token.uid, str(token.type)) != \
            (country_code.upper(), party_id.upper(), uid, token_type):
        raise _invalid("country_code, party_id, uid and type of the Token must match the URL (type defaults to RFID)")


def _owned_by_other(existing, ctx: PartnerContext) -> bool:
    return existing is not None and existing.owner != partner_owner(ctx.partner.id)


@router.get(PATH, summary="A token as stored in the CPO system")
async def get_token(request: Request, country_code: str, party_id: str, token_uid: str,
                    type_: str | None = Query(None, alias="type"), ctx: PartnerContext = Depends(registered_partner)):
    token_type = _params(ctx, country_code, party_id, token_uid, type_)
    record = _store(request).get(country_code, party_id, token_uid, token_type)
    if record is None or _owned_by_other(record, ctx):
        return ocpi_response(status_code=OcpiStatus.UNKNOWN_TOKEN, message="unknown token", http_status=404)
    return ocpi_response(record.token.to_ocpi())


@router.put(PATH, summary="Push a new or updated token")
async def put_token(request: Request, country_code: str, party_id: str, token_uid: str,
                    type_: str | None = Query(None, alias="type"), ctx: PartnerContext = Depends(registered_partner)):
    token_type = _params(ctx, country_code, party_id, token_uid, type_)
    token = _validate(await _json_object(request))
    _check_identity(token, country_code, party_id, token_uid, token_type)
    store = _store(request)
    existing = store.get(country_code, party_id, token_uid, token_type)
    if _owned_by_other(existing, ctx):
        raise unauthorized("this token is owned by another party's connection")
    if existing is not None and token.last_updated < existing.token.last_updated:
        return ocpi_response(message="older than the stored token: ignored")
    await store.publish(token, ctx.partner.id)
    return ocpi_response()


@router.patch(PATH, summary="Change some fields of a token (last_updated required)")
async def patch_token(request: Request, country_code: str, party_id: str, token_uid: str,
                      type_: str | None = Query(None, alias="type"), ctx: PartnerContext = Depends(registered_partner)):
    token_type = _params(ctx, country_code, party_id, token_uid, type_)
    patch = await _json_object(request)
    store = _store(request)
    existing = store.get(country_code, party_id, token_uid, token_type)
    if existing is None or _owned_by_other(existing, ctx):
        return ocpi_response(status_code=OcpiStatus.UNKNOWN_TOKEN, message="unknown token", http_status=404)
    if "last_updated" not in patch:
        raise _invalid("a PATCH SHALL contain the last_updated field")
    token = _validate({**existing.token.to_ocpi(), **patch})
    _check_identity(token, country_code, party_id, token_uid, token_type)
    if token.last_updated < existing.token.last_updated:
        return ocpi_response(message="older than the stored token: ignored")
    await store.publish(token, ctx.partner.id)
    return ocpi_response()
