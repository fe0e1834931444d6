"""Paginated Sender lists: date_from (inclusive) / date_to (exclusive) on last_updated,
offset / limit, ordered by insertion so pages stay stable while a partner crawls them."""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import and_, false, func, or_, select, true

from services.ocpi.api.common import PartnerContext, page_params, page_response

OFFSET = Query(0, ge=0, le=2**31 - 1, description="offset of the first object")
LIMIT = Query(None, ge=0, le=2**31 - 1, description="max objects (the server caps it, see X-Limit)")
DATE_FROM = Query(None, description="only objects with last_updated >= this (RFC 3339, UTC)", max_length=40)
DATE_TO = Query(None, description="only objects with last_updated < this (RFC 3339, UTC)", max_length=40)


async def list_page(request: Request, table, *, offset: int, limit: int | None, date_from: str | None,
                    date_to: str | None, ctx: PartnerContext | None = None) -> Response:
    page = page_params(request, offset, limit, date_from, date_to)
    conds = []
    if page.date_from is not None:
        conds.append(table.last_updated >= page.date_from)
    if page.date_to is not None:
        conds.append(table.last_updated < page.date_to)
    if ctx is not None:  # sessions and CDRs: only the requesting eMSP's (all for a hub)
        parties = ctx.party_filter()
        if parties is not None:
            conds.append(or_(*[and_(table.token_country_code == cc, table.token_party_id == pid)
                               for cc, pid in parties]) if parties else false())
    where = and_(true(), *conds)
    async with request.app.state.sessionmaker() as db:
        total = (await db.execute(select(func.count()).select_from(table).where(where))).scalar_one()
        docs = []
        if page.limit > 0 and page.offset < total:
            docs = list((await db.execute(
                select(table.ocpi).where(where).order_by(table.seq).offset(page.offset).limit(page.limit)
            )).scalars())
    return page_response(request, page, total, docs)
