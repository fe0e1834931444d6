"""tariffs module, Sender interface (mod_tariffs.asciidoc)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.ocpi.api.common import PartnerContext, registered_partner
from services.ocpi.api.listing import DATE_FROM, DATE_TO, LIMIT, OFFSET, list_page
from services.ocpi.db import TariffRow

router = APIRouter(prefix="/ocpi/cpo/2.2.1/tariffs", tags=["tariffs"])


@router.get("", summary="Tariffs (paginated)")
async def list_tariffs(request: Request, offset: int = OFFSET, limit: int | None = LIMIT,
                       date_from: str | None = DATE_FROM, date_to: str | None = DATE_TO,
                       _: PartnerContext = Depends(registered_partner)):
    return await list_page(request, TariffRow, offset=offset, limit=limit, date_from=date_from, date_to=date_to)
