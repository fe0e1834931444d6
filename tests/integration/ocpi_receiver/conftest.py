"""The receiver world: the demo catalog on an isolated topic prefix, a real gateway with
real-time authorisation on, the OCPI adapter on a real port, the eMSP test app registered with it,
and a real `ocpp` charge point of each version connected. `settlement` adds the session service
(a real faust worker process, short finality grace) and the billing service, so charges end in
final sessions and CDRs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from libs.simulator.chargers import V16Station, V201Station
from services.billing.app import BillingService
from services.billing.settings import BillingSettings
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
from tests.integration.sessions.harness import Worker, free_port

pytestmark = pytest.mark.kafka
REALTIME_TIMEOUT = 2.0
FINALITY_GRACE_S = 2.0  # sessions: a completed session is final (and billed) this long after its last fact


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
def world_options() -> dict:
    """Overrides of the world's settings; a test module redefines this fixture to change them."""
    return {}


@pytest.fixture
async def world(kafka_settings, tmp_path, world_options):
    await publish_catalog(kafka_settings)
    options = {"call_timeout": 3.0, "command_timeout_s": 12, **world_options}
    gateway = GatewayApp(gateway_settings(tmp_path, call_timeout=options["call_timeout"], local_list_sync=False,
                                          realtime_auth=True, realtime_auth_timeout=REALTIME_TIMEOUT),
                         kafka_settings, health=False)
    await gateway.start()
    ocpi: OcpiService | None = await h.start_service(
        h.ocpi_settings(tmp_path, command_timeout_s=options["command_timeout_s"]), kafka_settings)
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
        world = World(kafka_settings, gateway, ocpi, emsp, stations[0], stations[1], partner_id)
        yield world
        ocpi = world.ocpi  # a test may have restarted the adapter
    finally:
        for s in stations:
            await s.close()
        await emsp.stop()
        if ocpi is not None:
            await ocpi.stop()
        gateway.settings.drain_seconds = 0
        await gateway.stop()


@dataclass
class Settlement:
    sessions: Worker
    billing: BillingService

    async def ready(self, timeout: float = 120.0) -> None:
        """The session worker answers /readyz (catalog read, group joined, tables recovered) and
        billing consumes sessions."""
        await self.sessions.wait_ready(timeout)
        async with asyncio.timeout(timeout):
            while self.billing.consumer is None:
                self.sessions.alive()
                await asyncio.sleep(0.1)


@pytest.fixture
async def settlement(kafka_settings, tmp_path):
    """The session service as a real worker process and billing in-process. The worker starts at
    once (faust needs seconds to join its group) and the test awaits `ready()` when it needs it,
    so requesting this fixture before `world` overlaps both start-ups."""
    worker = Worker(kafka_settings, tmp_path, finality_grace_s=str(FINALITY_GRACE_S),
                    finality_check_interval_s="0.3", session_timeout_s="10").start()
    billing = BillingService(kafka_settings, BillingSettings(health_host="127.0.0.1", health_port=free_port()))
    try:
        await billing.start()
        yield Settlement(worker, billing)
    finally:
        await billing.stop()
        await asyncio.to_thread(worker.stop)
