"""A test eMSP platform on a real port: both credentials handshakes, Receiver endpoints that
record pushes, an on/off switch to simulate being down, and a pulling client."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

EMSP_ROLE = {"role": "EMSP", "business_details": {"name": "Test eMSP"}, "party_id": "EMS", "country_code": "NL"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envelope(data=None, code=1000, http=200):
    body = {"status_code": code, "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=http)


def token_header(token: str, raw: bool = False) -> str:
    return "Token " + (token if raw else base64.b64encode(token.encode()).decode())


@dataclass
class Received:
    method: str
    path: str
    body: dict | None
    headers: dict
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks measure with it)


@dataclass
class Emsp:
    port: int = field(default_factory=free_port)
    accepted_tokens: set[str] = field(default_factory=set)  # tokens the CPO may call us with
    token_to_cpo: str | None = None  # the token we call the CPO with
    cpo_endpoints: list[dict] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    down: bool = False
    rejected_calls: int = 0
    app: FastAPI = None  # type: ignore[assignment]
    _server: uvicorn.Server | None = None
    _task: asyncio.Task | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/emsp"

    def __post_init__(self) -> None:
        self.app = self._build()

    def issue_token_a(self) -> str:
        token = "A-" + secrets.token_hex(8)
        self.accepted_tokens.add(token)
        return token

    def _authorised(self, request: Request) -> bool:
        h = request.headers.get("authorization", "")
        if not h.startswith("Token "):
            return False
        try:
            tok = base64.b64decode(h[6:], validate=True).decode()
        except Exception:  # noqa: BLE001
            return False
        return tok in self.accepted_tokens

    def _build(self) -> FastAPI:
        app = FastAPI()
        emsp = self

        @app.middleware("http")
        async def auth(request: Request, call_next):
            if not emsp._authorised(request):
                return envelope(code=2000, http=401)
            if emsp.down and "/credentials" not in request.url.path and "versions" not in request.url.path \
                    and request.url.path != "/emsp/2.2.1":
                emsp.rejected_calls += 1
                return JSONResponse({"detail": "down"}, status_code=503)
            return await call_next(request)

        @app.get("/emsp/versions")
        async def versions():
            return envelope([{"version": "2.1.1", "url": f"{emsp.base}/2.1.1"},
                             {"version": "2.2.1", "url": f"{emsp.base}/2.2.1"}])

        @app.get("/emsp/2.2.1")
        async def details():
            eps = [("credentials", "SENDER"), ("credentials", "RECEIVER"), ("locations", "RECEIVER"),
                   ("sessions", "RECEIVER"), ("cdrs", "RECEIVER"), ("tariffs", "RECEIVER")]
            return envelope({"version": "2.2.1", "endpoints": [
                {"identifier": i, "role": r, "url": f"{emsp.base}/2.2.1/{i}"} for i, r in eps]})

        @app.post("/emsp/2.2.1/credentials")
        async def post_credentials(request: Request):
            # The CPO registers with us: fetch its versions with its token B, answer with C.
            creds = await request.json()
            async with httpx.AsyncClient() as http:
                vs = (await http.get(creds["url"], headers={"Authorization": token_header(creds["token"])})).json()
                v = next(x for x in vs["data"] if x["version"] == "2.2.1")
                det = (await http.get(v["url"], headers={"Authorization": token_header(creds["token"])})).json()
            emsp.cpo_endpoints = det["data"]["endpoints"]
            emsp.token_to_cpo = creds["token"]
            token_c = "C-" + secrets.token_hex(8)
            emsp.accepted_tokens.clear()
            emsp.accepted_tokens.add(token_c)
            return envelope({"token": token_c, "url": f"{emsp.base}/versions", "roles": [EMSP_ROLE]})

        async def record(request: Request):
            body = None
            raw = await request.body()
            if raw:
                body = await request.json()
            emsp.received.append(Received(request.method, request.url.path, body, dict(request.headers)))
            return envelope(code=1000, http=201 if request.method == "POST" else 200)

        for module in ("locations", "sessions", "tariffs"):
            app.add_api_route(f"/emsp/2.2.1/{module}/{{path:path}}", record, methods=["PUT", "PATCH", "DELETE"])
        app.add_api_route("/emsp/2.2.1/cdrs", record, methods=["POST"])
        return app

    async def start(self) -> None:
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._server.capture_signals = _no_signals  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
            await self._task

    # --- the eMSP as a client of the CPO ----------------------------------------------------
    async def register_with_cpo(self, versions_url: str, token_a: str, *, raw_header: bool = False) -> dict:
        """eMSP-initiated handshake: GET versions + details with A, POST our B, keep C."""
        token_b = "B-" + secrets.token_hex(8)
        self.accepted_tokens.add(token_b)
        async with httpx.AsyncClient() as http:
            h = {"Authorization": token_header(token_a, raw_header)}
            vs = (await http.get(versions_url, headers=h)).json()
            v = next(x for x in vs["data"] if x["version"] == "2.2.1")
            det = (await http.get(v["url"], headers=h)).json()
            self.cpo_endpoints = det["data"]["endpoints"]
            cred_url = self.endpoint("credentials", "SENDER")
            resp = await http.post(cred_url, headers=h, json={
                "token": token_b, "url": f"{self.base}/versions", "roles": [EMSP_ROLE]})
        body = resp.json()
        if body.get("status_code") == 1000:
            self.token_to_cpo = body["data"]["token"]
        return {"http": resp.status_code, **body}

    def endpoint(self, identifier: str, role: str = "SENDER") -> str:
        return next(e["url"] for e in self.cpo_endpoints if e["identifier"] == identifier and e["role"] == role)

    async def get(self, url: str, *, params=None, token: str | None = None, headers: dict | None = None,
                  raw_header: bool = False) -> httpx.Response:
        h = {"Authorization": token_header(token or self.token_to_cpo, raw_header),
             "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4()), **(headers or {})}
        async with httpx.AsyncClient() as http:
            return await http.get(url, params=params, headers=h)

    async def pull_all(self, module: str, *, params: dict | None = None, limit: int = 2) -> tuple[list, list]:
        """Follow Link rel="next" from the first page; returns (objects, responses)."""
        url = self.endpoint(module)
        first = await self.get(url, params={**(params or {}), "limit": limit})
        pages = [first]
        items = list(first.json()["data"])
        while "link" in pages[-1].headers:
            link = pages[-1].headers["link"]
            nxt = link[link.index("<") + 1: link.index(">")]
            pages.append(await self.get(nxt))
            items += pages[-1].json()["data"]
        return items, pages


def _no_signals():
    import contextlib

    return contextlib.nullcontext()
