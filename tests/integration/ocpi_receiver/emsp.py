"""The eMSP test app (tests/integration/ocpi/emsp_app.py) with what the receiver side needs: a
tokens SENDER endpoint answering real-time authorisation as the test says, and a commands SENDER
endpoint recording every CommandResult posted to a response_url."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from fastapi import Request

from tests.integration.ocpi.emsp_app import Emsp, Received, envelope, token_header


@dataclass
class ReceiverEmsp(Emsp):
    # uid -> (allowed, authorization_reference); a uid not here is unknown (HTTP 404, 2004)
    authorizations: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    tokens: dict[str, dict] = field(default_factory=dict)  # uid -> Token object returned with the answer
    authorize_delay: float = 0.0
    authorize_calls: list[Received] = field(default_factory=list)
    results: list[Received] = field(default_factory=list)

    def _build(self):
        app = super()._build()
        emsp = self
        app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/emsp/2.2.1"]

        @app.get("/emsp/2.2.1")
        async def details():
            eps = [("credentials", "SENDER"), ("credentials", "RECEIVER"), ("locations", "RECEIVER"),
                   ("sessions", "RECEIVER"), ("cdrs", "RECEIVER"), ("tariffs", "RECEIVER"),
                   ("tokens", "SENDER"), ("commands", "SENDER")]
            return envelope({"version": "2.2.1", "endpoints": [
                {"identifier": i, "role": r, "url": f"{emsp.base}/2.2.1/{i}"} for i, r in eps]})

        @app.post("/emsp/2.2.1/tokens/{uid}/authorize")
        async def authorize(uid: str, request: Request):
            raw = await request.body()
            emsp.authorize_calls.append(Received("POST", str(request.url), await request.json() if raw else None,
                                                 dict(request.headers)))
            if emsp.authorize_delay:
                await asyncio.sleep(emsp.authorize_delay)
            if uid not in emsp.authorizations:
                return envelope(code=2004, http=404)
            allowed, reference = emsp.authorizations[uid]
            info = {"allowed": allowed, "token": emsp.tokens[uid]}
            if reference:
                info["authorization_reference"] = reference
            if raw:
                info["location"] = await request.json()
            return envelope(info)

        @app.post("/emsp/2.2.1/commands/{command}/{ref}")
        async def command_result(command: str, ref: str, request: Request):
            emsp.results.append(Received("POST", request.url.path, await request.json(), dict(request.headers)))
            return envelope()

        return app

    def response_url(self, command: str) -> str:
        return f"{self.base}/2.2.1/commands/{command}/{uuid.uuid4().hex[:12]}"

    async def call(self, method: str, url: str, json=None, *, content: bytes | None = None) -> httpx.Response:
        headers = {"Authorization": token_header(self.token_to_cpo), "X-Request-ID": str(uuid.uuid4()),
                   "X-Correlation-ID": str(uuid.uuid4())}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.request(method, url, json=json, content=content, headers=headers)

    async def result_for(self, response_url: str, timeout: float = 30.0) -> dict:
        path = httpx.URL(response_url).path
        async with asyncio.timeout(timeout):
            while True:
                hit = [r for r in self.results if r.path == path]
                if hit:
                    return hit[0].body
                await asyncio.sleep(0.05)
