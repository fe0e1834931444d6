"""locations module, Sender interface (mod_locations.asciidoc): list, Location, EVSE, Connector."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Path, Request

from libs.ocpi.status import OcpiStatus
from services.ocpi.api.common import OcpiError, PartnerContext, ocpi_response, registered_partner
from services.ocpi.api.listing import DATE_FROM, DATE_TO, LIMIT, OFFSET, list_page
from services.ocpi.db import LocationRow

router = APIRouter(prefix="/ocpi/cpo/2.2.1/locations", tags=["locations"])

LOCATION_ID = Path(..., max_length=36, description="CiString(36)")
EVSE_UID = Path(..., max_length=36, description="CiString(36)")
CONNECTOR_ID = Path(..., max_length=36, description="CiString(36)")


def _unknown(what: str) -> OcpiError:
    # status_codes.asciidoc: GET on a resource that does not exist → HTTP 404; 2003 Unknown Location
    return OcpiError(404, OcpiStatus.UNKNOWN_LOCATION, f"unknown {what}")


async def _location(request: Request, location_id: str) -> dict:
    rows = await request.app.state.reader.rows(
        "SELECT ocpi FROM locations WHERE location_id = :id ORDER BY seq LIMIT 1", {"id": location_id}, quick=True)
    if not rows:
        raise _unknown(f"location {location_id}")
    return orjson.loads(rows[0][0])


@router.get("", summary="Locations (paginated)")
async def list_locations(request: Request, offset: int = OFFSET, limit: int | None = LIMIT,
                         date_from: str | None = DATE_FROM, date_to: str | None = DATE_TO,
                         _: PartnerContext = Depends(registered_partner)):
    return await list_page(request, LocationRow, offset=offset, limit=limit, date_from=date_from, date_to=date_to)


@router.get("/{location_id}", summary="One Location")
async def get_location(request: Request, location_id: str = LOCATION_ID,
                       _: PartnerContext = Depends(registered_partner)):
    return ocpi_response(await _location(request, location_id))


def _evse(loc: dict, evse_uid: str) -> dict:
    for e in loc.get("evses", []):
        if e["uid"] == evse_uid:
            return e
    raise _unknown(f"EVSE {evse_uid} at location {loc['id']}")


@router.get("/{location_id}/{evse_uid}", summary="One EVSE")
async def get_evse(request: Request, location_id: str = LOCATION_ID, evse_uid: str = EVSE_UID,
                   _: PartnerContext = Depends(registered_partner)):
    return ocpi_response(_evse(await _location(request, location_id), evse_uid))


@router.get("/{location_id}/{evse_uid}/{connector_id}", summary="One Connector")
async def get_connector(request: Request, location_id: str = LOCATION_ID, evse_uid: str = EVSE_UID,
                        connector_id: str = CONNECTOR_ID, _: PartnerContext = Depends(registered_partner)):
    evse = _evse(await _location(request, location_id), evse_uid)
    for c in evse["connectors"]:
        if c["id"] == connector_id:
            return ocpi_response(c)
    raise _unknown(f"connector {connector_id} of EVSE {evse_uid}")
