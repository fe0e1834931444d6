"""credentials module (credentials.asciidoc): registration, update, unregistration.

POST 405 when already registered, PUT / DELETE 405 when not registered. Problems reaching the
client's API during registration are OCPI 3001 (3002 no mutual version, 3003 missing endpoints).
A body that is JSON but not a valid Credentials object reached the OCPI layer: HTTP 200, 2001
(status_codes.asciidoc: "a HTTP error MUST NOT be returned").
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from libs.ocpi.models import Credentials
from libs.ocpi.status import OcpiStatus
from services.ocpi import partners as reg
from services.ocpi.api.common import OcpiError, PartnerContext, any_partner, ocpi_response
from services.ocpi.db import Partner

router = APIRouter(prefix="/ocpi/2.2.1/credentials", tags=["credentials"])


async def _credentials_body(request: Request) -> Credentials:
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise OcpiError(400, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, "body is not valid JSON") from None
    try:
        return Credentials.model_validate(data)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise OcpiError(200, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, f"invalid credentials: {errs}") from None


def _not_allowed(message: str) -> OcpiError:
    return OcpiError(405, OcpiStatus.CLIENT_ERROR, message)


@router.get("", summary="Our credentials for the calling partner")
async def get_credentials(request: Request, ctx: PartnerContext = Depends(any_partner)):
    return ocpi_response(reg.our_credentials(request.app.state.settings, ctx.partner.token_in))


async def _register(request: Request, ctx: PartnerContext, creds: Credentials, *, update: bool):
    settings = request.app.state.settings
    async with request.app.state.sessionmaker.begin() as db:
        partner = await db.get(Partner, ctx.partner.id)
        if update and partner.state != "registered":
            raise _not_allowed("not registered: use POST")
        if not update and partner.state == "registered":
            raise _not_allowed("already registered: use PUT to update")
        try:
            token_c = await reg.accept_registration(db, request.app.state.client, partner, creds)
        except reg.RegistrationError as exc:
            return ocpi_response(status_code=exc.status_code, message=exc.message)
        body = reg.our_credentials(settings, token_c)
    request.app.state.token_cache.clear()
    request.app.state.log.info("partner_registered", partner=partner.name, update=update)
    return ocpi_response(body)


@router.post("", summary="Register: the partner's token B in, our token C out",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": Credentials.model_json_schema()}}}})
async def post_credentials(request: Request, ctx: PartnerContext = Depends(any_partner)):
    if ctx.partner.state == "registered":
        raise _not_allowed("already registered: use PUT to update")
    return await _register(request, ctx, await _credentials_body(request), update=False)


@router.put("", summary="Update credentials (new token, version, endpoints)",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": Credentials.model_json_schema()}}}})
async def put_credentials(request: Request, ctx: PartnerContext = Depends(any_partner)):
    if ctx.partner.state != "registered":
        raise _not_allowed("not registered: use POST")
    return await _register(request, ctx, await _credentials_body(request), update=True)


@router.delete("", summary="Unregister")
async def delete_credentials(request: Request, ctx: PartnerContext = Depends(any_partner)):
    if ctx.partner.state != "registered":
        raise _not_allowed("not registered")
    async with request.app.state.sessionmaker.begin() as db:
        await reg.unregister(db, await db.get(Partner, ctx.partner.id))
    request.app.state.token_cache.clear()
    return ocpi_response()
