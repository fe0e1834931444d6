"""Every VOLTSTREAM_* variable the chart sets is a setting some service actually reads.

A renamed setting would otherwise be ignored silently in production (pydantic-settings ignores
unknown environment variables), so the chart and the services are checked against each other.
"""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from libs.events.bus import KafkaSettings
from services.analytics.settings import AnalyticsSettings
from services.billing.settings import BillingSettings
from services.gateway.settings import GatewaySettings
from services.ocpi.settings import OcpiSettings
from services.sessions.settings import SessionsSettings

from .chart import PRODUCTION_VALUES, render

SETTINGS: tuple[type[BaseSettings], ...] = (
    KafkaSettings, GatewaySettings, SessionsSettings, BillingSettings, OcpiSettings, AnalyticsSettings,
)


def known_variables() -> set[str]:
    names = set()
    for cls in SETTINGS:
        prefix = cls.model_config["env_prefix"]
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def chart_variables(docs: list[dict]) -> set[str]:
    names: set[str] = set()
    for doc in docs:
        if doc.get("kind") in ("ConfigMap", "Secret"):
            names |= {k for k in {**doc.get("data", {}), **doc.get("stringData", {})} if k.startswith("VOLTSTREAM_")}
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
        for container in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
            names |= {e["name"] for e in container.get("env", []) if e["name"].startswith("VOLTSTREAM_")}
    return names


@pytest.mark.parametrize("values", [(), (PRODUCTION_VALUES,)], ids=["defaults", "production"])
def test_every_chart_variable_is_read_by_a_service(values):
    docs = render(*values)
    used = chart_variables(docs)
    assert "VOLTSTREAM_KAFKA_BOOTSTRAP" in used and "VOLTSTREAM_GATEWAY_SPOOL_DIR" in used
    unknown = sorted(used - known_variables())
    assert unknown == [], f"the chart sets variables no service reads: {unknown}"


def test_clickhouse_server_credentials_compose_the_dsn():
    settings = AnalyticsSettings(clickhouse_url="https://ch.example:8443/", clickhouse_username="vs",
                                 clickhouse_password="p@ss:w/rd")
    assert settings.dsn == "https://vs:p%40ss%3Aw%2Frd@ch.example:8443/"
    assert not settings.embedded
    assert AnalyticsSettings(clickhouse_dsn="chdb:///tmp/x").embedded
