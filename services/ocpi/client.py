"""Outgoing OCPI requests to a partner: token, X-Request-ID / X-Correlation-ID, OCPI-from/to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from libs.ocpi.status import is_success
from services.ocpi.api.common import encode_token


@dataclass
class OcpiReply:
    http_status: int
    body: dict[str, Any] | None
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        """2xx and an envelope with a 1xxx status_code."""
        return (
            200 <= self.http_status < 300
            and isinstance(self.body, dict)
            and isinstance(self.body.get("status_code"), int)
            and is_success(self.body["status_code"])
        )

    def describe(self) -> str:
        if self.body is None:
            return f"HTTP {self.http_status}, no OCPI envelope"
        return f"HTTP {self.http_status}, status_code {self.body.get('status_code')} {self.body.get('status_message') or ''}".rstrip()


class OcpiClient:
    def __init__(self, *, from_country: str, from_party: str, timeout_s: float = 10.0):
        self.from_country = from_country
        self.from_party = from_party
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, url: str, token: str, *, json: Any = None,
        to_party: tuple[str, str] | None = None, correlation_id: str | None = None,
    ) -> OcpiReply:
        headers = {
            "Authorization": encode_token(token),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
            "OCPI-from-country-code": self.from_country,
            "OCPI-from-party-id": self.from_party,
        }
        if to_party:
            headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to_party
        content = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            content = json if isinstance(json, bytes) else orjson.dumps(json)
        resp = await self._http.request(method, url, content=content, headers=headers)
        body = None
        try:
            parsed = orjson.loads(resp.content) if resp.content else None
            body = parsed if isinstance(parsed, dict) else None
        except orjson.JSONDecodeError:
            body = None
        return OcpiReply(resp.status_code, body, resp.headers)
