"""versions module (version_information_endpoint.asciidoc): version list and 2.2.1 details."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.ocpi.api.common import PartnerContext, any_partner, ocpi_response

router = APIRouter(tags=["versions"])

# (identifier, role, path below the base URL) of every endpoint this CPO implements.
ENDPOINTS = [
    ("credentials", "SENDER", "/2.2.1/credentials"),
    ("credentials", "RECEIVER", "/2.2.1/credentials"),
    ("locations", "SENDER", "/cpo/2.2.1/locations"),
    ("sessions", "SENDER", "/cpo/2.2.1/sessions"),
    ("cdrs", "SENDER", "/cpo/2.2.1/cdrs"),
    ("tariffs", "SENDER", "/cpo/2.2.1/tariffs"),
    ("tokens", "RECEIVER", "/cpo/2.2.1/tokens"),
    ("commands", "RECEIVER", "/cpo/2.2.1/commands"),
]


@router.get("/ocpi/versions", summary="OCPI versions this platform supports")
async def versions(request: Request, _: PartnerContext = Depends(any_partner)):
    base = request.app.state.settings.base_url
    return ocpi_response([{"version": "2.2.1", "url": f"{base}/2.2.1"}])


@router.get("/ocpi/2.2.1", summary="OCPI 2.2.1 version details: the endpoints")
async def version_details(request: Request, _: PartnerContext = Depends(any_partner)):
    base = request.app.state.settings.base_url
    return ocpi_response({
        "version": "2.2.1",
        "endpoints": [{"identifier": i, "role": r, "url": base + p} for i, r, p in ENDPOINTS],
    })
