"""Run a service's async main with graceful shutdown on SIGTERM / SIGINT.

A service implements `start()` (connect, catch up, serve) and `stop()` (stop accepting, drain,
flush the producer, commit); `run_service` calls them and waits for a signal in between.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

import structlog

log = structlog.get_logger("runner")


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def serve_until_signalled(service: Service, stop_event: asyncio.Event | None = None) -> None:
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    await service.start()
    log.info("service_started", service=service.name)
    try:
        await stop_event.wait()
    finally:
        log.info("service_stopping", service=service.name)
        await service.stop()
        log.info("service_stopped", service=service.name)


def run_service(service: Service) -> None:
    asyncio.run(serve_until_signalled(service))
