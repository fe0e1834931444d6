"""`voltstream gateway`: run the OCPP gateway until SIGTERM."""

from __future__ import annotations

import typer


def command(
    port: int = typer.Option(None, help="OCPP WebSocket port (default 9000, VOLTSTREAM_GATEWAY_PORT)"),
    health_port: int = typer.Option(None, help="/healthz /readyz /metrics port (default 9101)"),
    no_auth: bool = typer.Option(False, "--no-auth", help="development: accept stations without credentials"),
    instance_id: str = typer.Option(None, help="gateway instance id (lease, spool directory)"),
) -> None:
    """Run the OCPP 1.6J / 2.0.1 gateway."""
    from libs.service.logging import configure_logging
    from libs.service.runner import run_service
    from services.gateway.app import GatewayApp
    from services.gateway.settings import GatewaySettings

    overrides = {k: v for k, v in {"port": port, "health_port": health_port, "instance_id": instance_id}.items()
                 if v is not None}
    if no_auth:
        overrides["auth"] = False
    settings = GatewaySettings(**overrides)
    configure_logging("gateway", settings.log_level)
    run_service(GatewayApp(settings))
