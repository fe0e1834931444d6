"""schemathesis against the published /openapi.json: no input yields a 5xx (bounded run)."""

from __future__ import annotations

import asyncio
import base64
import re
import sys
from pathlib import Path

import pytest

from libs.events.producer import EventProducer
from services.ocpi.db import Partner
from tests.integration.ocpi import harness as h

pytestmark = pytest.mark.kafka


async def test_schemathesis_finds_no_server_error(kafka_settings, tmp_path):
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many([h.location("LOC1", [h.evse("E1", "CS1", 1)]), h.tariff("T1"),
                                  h.session("s-1", 1), h.cdr("CDR-1")])
    settings = h.ocpi_settings(tmp_path, push_timeout_s=1.0)
    svc = await h.start_service(settings, kafka_settings)
    try:
        async with svc.sm.begin() as db:
            db.add(Partner(name="fuzzer", state="registered", token_in="fuzz-token", token_out="x",
                           roles='[{"role":"EMSP","business_details":{"name":"F"},"party_id":"EMS","country_code":"NL"}]'))
        token = base64.b64encode(b"fuzz-token").decode()
        st = Path(sys.executable).with_name("schemathesis")
        proc = await asyncio.create_subprocess_exec(
            str(st), "run", f"{settings.public_url}/openapi.json", "--checks", "not_a_server_error",
            "--max-examples", "25", "--seed", "7", "--request-timeout", "10", "--no-color",
            "-H", f"Authorization: Token {token}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text[-4000:]
        m = re.search(r"(\d+) generated, (\d+) passed", text)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) > 100, text[-3000:]
        # the API served every one of those requests: it is the metrics that say so
        assert 'ocpi_requests_total{module="locations"' in (
            await asyncio.to_thread(lambda: __import__("httpx").get(f"{settings.public_url}/metrics").text))
    finally:
        await svc.stop()
