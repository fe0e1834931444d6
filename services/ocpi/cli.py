"""`voltstream ocpi` (the service) and `voltstream partner invite|register|status|list`."""

from __future__ import annotations

import asyncio
import json

import typer

from services.ocpi.settings import OcpiSettings


def command(
    port: int | None = typer.Option(None, help="HTTP port (default VOLTSTREAM_OCPI_PORT or 8080)"),
    log_level: str | None = typer.Option(None, help="log level (default VOLTSTREAM_OCPI_LOG_LEVEL or INFO)"),
) -> None:
    """Run the OCPI 2.2.1 CPO adapter (API, read model, push to partners)."""
    from libs.service.logging import configure_logging
    from libs.service.runner import run_service
    from services.ocpi.app import OcpiService

    settings = OcpiSettings(**({"port": port} if port else {}))
    configure_logging("ocpi", log_level or settings.log_level)
    run_service(OcpiService(settings))


partner_app = typer.Typer(no_args_is_help=True, help="OCPI roaming partners (credentials, delivery state).")


async def _with_db(fn):
    from services.ocpi.db import create_schema, make_engine, sessionmaker

    settings = OcpiSettings()
    engine = make_engine(settings.database_url)
    try:
        await create_schema(engine)
        return await fn(sessionmaker(engine), settings)
    finally:
        await engine.dispose()


@partner_app.command("invite")
def invite(name: str = typer.Argument(..., help="a name for the new partner")) -> None:
    """Create a partner and print its token A and our versions URL (send them out of band)."""
    from services.ocpi.partners import invite as do_invite

    async def run(sm, settings):
        async with sm.begin() as db:
            p = await do_invite(db, name)
            return p.id, p.token_in, f"{settings.base_url}/versions"

    pid, token, url = asyncio.run(_with_db(run))
    typer.echo(f"partner:      {pid} {name}")
    typer.echo(f"token A:      {token}")
    typer.echo(f"versions URL: {url}")


@partner_app.command("register")
def register(
    versions_url: str = typer.Argument(..., help="the partner's versions URL"),
    token_a: str = typer.Argument(..., help="the token A the partner gave us"),
    name: str = typer.Option("partner", help="a name for the partner"),
) -> None:
    """Register with a partner (we start the credentials handshake). The API must be running."""
    from services.ocpi.client import OcpiClient
    from services.ocpi.partners import RegistrationError, register_with

    async def run(sm, settings):
        client = OcpiClient(from_country=settings.country_code, from_party=settings.party_id)
        try:
            return await register_with(sm, client, settings, versions_url, token_a, name)
        finally:
            await client.close()

    try:
        partner = asyncio.run(_with_db(run))
    except RegistrationError as exc:
        typer.echo(f"registration failed ({exc.status_code}): {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"registered partner {partner.id} {partner.name}")


def _state(as_json: bool) -> list[dict]:
    from services.ocpi.push import delivery_state

    async def run(sm, _settings):
        async with sm() as db:
            return await delivery_state(db)

    return asyncio.run(_with_db(run))


@partner_app.command("list")
def list_partners(as_json: bool = typer.Option(False, "--json")) -> None:
    """Partners with their state, roles and version."""
    rows = _state(as_json)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['id']:>4} {r['partner']:<24} {r['state']:<12} {r['version'] or '-':<6} {', '.join(r['roles'])}")


@partner_app.command("status")
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Per-partner delivery state: pending, failing (being retried), delivered, last error."""
    rows = _state(as_json)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['id']:>4} {r['partner']:<24} {r['state']:<12} pending={r['pending']} "
                   f"failing={r['failing']} delivered={r['delivered']}"
                   + (f" last_error={r['last_error']}" if r["last_error"] else ""))
