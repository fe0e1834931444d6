"""`voltstream sessions`: run the session service (a faust-streaming worker)."""

from __future__ import annotations

import typer


def command(
    web_port: int = typer.Option(None, help="faust web port for /healthz, /readyz, /metrics (default 6066)"),
    data_dir: str = typer.Option(None, help="worker data directory (table stores)"),
) -> None:
    """Charging sessions from transaction, meter and station events (OCPI 2.2.1 sessions)."""
    from services.sessions.app import run
    from services.sessions.settings import SessionsSettings

    overrides = {k: v for k, v in {"web_port": web_port, "data_dir": data_dir}.items() if v is not None}
    run(SessionsSettings(**overrides))
