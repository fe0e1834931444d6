"""Remote management harness: the demo catalog on an isolated topic prefix (the gateway tests'
helpers), real gateways started per test."""

from __future__ import annotations

import pytest

from tests.integration.gateway.conftest import publish_catalog


@pytest.fixture
async def catalog(kafka_settings):
    await publish_catalog(kafka_settings)
    return kafka_settings
