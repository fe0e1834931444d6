"""The receiver world: the demo catalog on an isolated topic prefix, a real gateway with
real-time authorisation on, the OCPI adapter on a real port, the eMSP test app registered with it,
and a real `ocpp` charge point of each version connected."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from libs.simulator.chargers import V16Station, V201Station
from services.gateway.app import GatewayApp
from services.ocpi.app import OcpiService
from services.ocpi.partners import invite
from tests.integration.gateway.conftest import (
    KEYS,
    V16_STATION,
    V201_STATION,
    gateway_settings,
    publish_catalog,
    url,
)
from tests.integration.ocpi import harness as h
from tests.integration.ocpi_receiver.emsp import ReceiverEmsp

pytestmark = pytest.mark.kafka
REALTIME_TIMEOUT = 2.0


@dataclass
class World:
    kafka: object
    gateway: GatewayApp
    ocpi: OcpiService
    emsp: ReceiverEmsp
    v16: V16Station
    v201: V201Station
    partner_id: int

    def endpoint(self, module: str) -> str:
        return self.emsp.endpoint(module, "RECEIVER")


@pytest.fixture
async def world(kafka_settings, tmp_path):
    await publish_catalog(kafka_settings)
    gateway = GatewayApp(gateway_settings(tmp_path, call_timeout=3.0, local_list_sync=False, realtime_auth=True,
                                          realtime_auth_timeout=REALTIME_TIMEOUT), kafka_settings, health=False)
    await gateway.start()
    ocpi = await h.start_service(h.ocpi_settings(tmp_path, command_timeout_s=12), kafka_settings)
    emsp = ReceiverEmsp()
    await emsp.start()
    stations = []
    try:
        async with ocpi.sm.begin() as db:
            partner = await invite(db, "test-emsp")
            token_a, partner_id = partner.token_in, partner.id
        reg = await emsp.register_with_cpo(f"{ocpi.settings.base_url}/versions", token_a)
        assert reg["status_code"] == 1000, reg
        for cls, sid in ((V16Station, V16_STATION), (V201Station, V201_STATION)):
            station = cls(sid, url(gateway, sid).rsplit("/", 1)[0], key=KEYS[sid])
            await station.connect()
            await station.boot()
            stations.append(station)
        await h.until(lambda: all(ocpi.presence.is_online(s.station_id) for s in stations))
        yield World(kafka_settings, gateway, ocpi, emsp, stations[0], stations[1], partner_id)
    finally:
        for s in stations:
            await s.close()
        await emsp.stop()
        await ocpi.stop()
        gateway.settings.drain_seconds = 0
        await gateway.stop()
