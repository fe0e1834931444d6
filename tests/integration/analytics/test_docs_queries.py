"""Every query in docs/analytics.md runs through the read-only endpoint on the known data set and
returns exactly the figures the document shows."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from libs.events.producer import EventProducer
from tests.integration.analytics import dataset
from tests.integration.analytics.conftest import wait_for

DOC = Path(__file__).resolve().parents[3] / "docs" / "analytics.md"
_QUERY = re.compile(r"### (.+?)\n\n```sql\n(.+?)\n```\n\n[^\n]*\n\n```text\n(.+?)\n```", re.DOTALL)


def doc_queries() -> list[tuple[str, str, str]]:
    return _QUERY.findall(DOC.read_text())


def test_the_document_has_at_least_eight_queries_with_figures():
    titles = [t for t, _, _ in doc_queries()]
    assert len(titles) >= 8, titles
    assert DOC.read_text().count("```sql") == len(titles)  # every query has its expected figures


async def test_every_documented_query_returns_its_figures(start_sink, analytics_settings, kafka_settings):
    async with EventProducer(kafka_settings) as producer:
        await producer.send_many(dataset.all_events())
    await start_sink()
    await wait_for(analytics_settings, "SELECT (SELECT count() FROM meter_values FINAL), "
                   "(SELECT count() FROM sessions FINAL), (SELECT count() FROM cdrs FINAL), "
                   "(SELECT count() FROM station_events FINAL), (SELECT count() FROM station_status FINAL), "
                   "(SELECT count() FROM ocpp_frames FINAL)", [(30, 5, 5, 6, 5, 6)])
    mismatches = {}
    async with httpx.AsyncClient(timeout=60) as http:
        for title, sql, expected in doc_queries():
            r = await http.post(f"http://127.0.0.1:{analytics_settings.query_port}/", content=sql.encode(),
                                params={"database": analytics_settings.database,
                                        "default_format": "TabSeparatedWithNames"})
            assert r.status_code == 200, (title, r.text)
            if r.text.strip("\n") != expected.strip("\n"):
                mismatches[title] = r.text
    assert not mismatches, mismatches
