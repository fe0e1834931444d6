"""Paginated Sender lists: date_from (inclusive) / date_to (exclusive) on last_updated,
offset / limit, ordered by insertion so pages stay stable while a partner crawls them.

A page is one statement: the stored OCPI JSON of the page's rows (their `seq` found by OFFSET
over a narrow index) plus the list's version. X-Total-Count is counted once per list version and
filter and then served from `TotalCounts`, since counting every matching index entry per request
cost more than the page itself.
"""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.responses import Response

from services.ocpi.api.common import PartnerContext, page_params, page_response

OFFSET = Query(0, ge=0, le=2**31 - 1, description="offset of the first object")
LIMIT = Query(None, ge=0, le=2**31 - 1, description="max objects (the server caps it, see X-Limit)")
DATE_FROM = Query(None, description="only objects with last_updated >= this (RFC 3339, UTC)", max_length=40)
DATE_TO = Query(None, description="only objects with last_updated < this (RFC 3339, UTC)", max_length=40)


class TotalCounts:
    """(list, filter) → (list version, count). Valid while the list's version is unchanged; the
    version is bumped in the writer's transaction, so this holds across replicas too."""

    MAX_ENTRIES = 4096  # filters come from clients (dates): bounded, cleared when full

    def __init__(self) -> None:
        self._counts: dict[tuple, tuple[int, int]] = {}

    def get(self, key: tuple, version: int) -> int | None:
        hit = self._counts.get(key)
        return hit[1] if hit is not None and hit[0] == version else None

    def put(self, key: tuple, version: int | None, count: int) -> None:
        if version is None:  # no version row (schema not created by create_schema): never cache
            return
        if len(self._counts) >= self.MAX_ENTRIES:
            self._counts.clear()
        self._counts[key] = (version, count)


def _where(date_from: bool, date_to: bool, parties: list[tuple[str, str]] | None) -> tuple[str, dict]:
    conds, params = ["1 = 1"], {}
    if date_from:
        conds.append("last_updated >= :date_from")
    if date_to:
        conds.append("last_updated < :date_to")
    if parties is not None:  # sessions and CDRs: only the requesting eMSP's (all for a hub)
        pairs = []
        for i, (cc, pid) in enumerate(parties):
            pairs.append(f"(token_country_code = :cc{i} AND token_party_id = :pid{i})")
            params[f"cc{i}"], params[f"pid{i}"] = cc, pid
        conds.append("(" + " OR ".join(pairs) + ")" if pairs else "1 = 0")
    return " AND ".join(conds), params


async def list_page(request: Request, table, *, offset: int, limit: int | None, date_from: str | None,
                    date_to: str | None, ctx: PartnerContext | None = None) -> Response:
    page = page_params(request, offset, limit, date_from, date_to)
    parties = ctx.party_filter() if ctx is not None else None
    where, params = _where(page.date_from is not None, page.date_to is not None, parties)
    name = table.__tablename__
    params["list"] = name
    params.update({k: v for k, v in (("date_from", page.date_from), ("date_to", page.date_to)) if v is not None})
    version = "(SELECT version FROM list_versions WHERE name = :list)"
    key = (name, page.date_from, page.date_to, tuple(parties) if parties is not None else None)
    counts: TotalCounts = request.app.state.total_counts
    reader = request.app.state.reader
    docs: list[str] = []
    total = None
    if page.limit > 0:
        rows = await reader.rows(
            f"SELECT ocpi, {version} FROM {name} WHERE seq IN (SELECT seq FROM {name} WHERE {where} "
            f"ORDER BY seq LIMIT :limit OFFSET :offset) ORDER BY seq",
            {**params, "limit": page.limit, "offset": page.offset}, quick=True)
        if rows:
            docs = [r[0] for r in rows]
            total = counts.get(key, rows[0][1])
    if total is None:  # first request of this version, or an empty page: count (and see the version)
        (total, ver), = await reader.rows(f"SELECT count(*), {version} FROM {name} WHERE {where}", params)
        counts.put(key, ver, total)
    return page_response(request, page, total, docs)
