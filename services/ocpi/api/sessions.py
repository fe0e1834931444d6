"""sessions module, Sender interface (mod_sessions.asciidoc): the requesting eMSP's sessions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.ocpi.api.common import PartnerContext, registered_partner
from services.ocpi.api.listing import DATE_FROM, DATE_TO, LIMIT, OFFSET, list_page
from services.ocpi.db import SessionRow

router = APIRouter(prefix="/ocpi/cpo/2.2.1/sessions", tags=["sessions"])


@router.get("", summary="Sessions of the requesting party (paginated)")
async def list_sessions(request: Request, offset: int = OFFSET, limit: int | None = LIMIT,
                        date_from: str | None = DATE_FROM, date_to: str | None = DATE_TO,
                        ctx: PartnerContext = Depends(registered_partner)):
    return await list_page(request, SessionRow, offset=offset, limit=limit, date_from=date_from,
                           date_to=date_to, ctx=ctx)
