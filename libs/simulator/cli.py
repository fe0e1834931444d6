"""`voltstream simulate`: run a fleet of simulated OCPP charge points against a gateway."""

from __future__ import annotations

import asyncio

import typer


def command(
    url: str = typer.Option("ws://127.0.0.1:9000/ocpp", help="gateway base URL (station id is appended)"),
    stations: int = typer.Option(10, help="number of stations"),
    protocol: str = typer.Option("mixed", help="ocpp1.6, ocpp2.0.1 or mixed"),
    prefix: str = typer.Option("SIM", help="station id prefix (SIM-00000, SIM-00001, …)"),
    key_template: str = typer.Option(None, help="AuthorizationKey per station, e.g. 'key-{station}-000000'"),
    key: list[str] = typer.Option([], help="STATION=KEY (repeatable), e.g. the demo catalog's stations"),
    meter_interval: float = typer.Option(5.0, help="seconds between meter values"),
    session_minutes: float = typer.Option(2.0, help="length of one charging session"),
    duration: float = typer.Option(None, help="stop after this many seconds (default: run until Ctrl-C)"),
) -> None:
    """Simulate N charge points with realistic sessions (authorise, start, meter values, suspend, stop)."""
    from libs.simulator.fleet import Fleet, FleetConfig, progress

    keys = dict(k.split("=", 1) for k in key)
    cfg = FleetConfig(url=url, stations=stations, protocol=protocol, prefix=prefix, keys=keys,
                      key_template=key_template, meter_interval=meter_interval, session_minutes=session_minutes)

    async def main() -> None:
        fleet = Fleet(cfg)
        reporter = asyncio.create_task(progress(fleet, out=typer.echo))
        try:
            await fleet.run(duration)
        finally:
            reporter.cancel()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
