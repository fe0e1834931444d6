"""The `voltstream` command: services, operator tools and local orchestration."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from libs.events.bus import KafkaSettings

app = typer.Typer(no_args_is_help=True, help="voltstream: an open-source CPO backend (OCPP + OCPI over Kafka).")
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics of the event contract.")
catalog_app = typer.Typer(no_args_is_help=True, help="Operator reference data (locations, tariffs, tokens, keys).")
events_app = typer.Typer(no_args_is_help=True, help="The event contract.")
app.add_typer(topics_app, name="topics")
app.add_typer(catalog_app, name="catalog")
app.add_typer(events_app, name="events")

try:  # the local broker runner
    from voltstream.kafka_local import kafka_app

    app.add_typer(kafka_app, name="kafka", help="Run a local single-node Apache Kafka (KRaft).")
except ImportError:  # pragma: no cover
    pass


def _mount_services() -> None:
    """Each service contributes its own command(s); a service never imports another."""
    from libs.simulator.cli import command as simulate_command
    from services.analytics.cli import analytics_app
    from services.billing.cli import cdr_app
    from services.billing.cli import command as billing_command
    from services.gateway.cli import command as gateway_command
    from services.ocpi.cli import command as ocpi_command
    from services.ocpi.cli import partner_app
    from services.sessions.cli import command as sessions_command

    app.command("gateway", help="Run the OCPP gateway (chargers connect here).")(gateway_command)
    app.command("simulate", help="Run simulated charging stations against a gateway.")(simulate_command)
    app.command("sessions", help="Run the session service (faust worker: transactions -> sessions).")(sessions_command)

    app.command("billing", help="Run the billing service (final sessions -> OCPI CDRs).")(billing_command)
    app.add_typer(cdr_app, name="cdr")
    app.command("ocpi", help="Run the OCPI 2.2.1 CPO adapter (roaming partners connect here).")(ocpi_command)
    app.add_typer(partner_app, name="partner")
    app.add_typer(analytics_app, name="analytics")

    from voltstream.demo import demo_app
    from voltstream.station import station_app

    app.add_typer(demo_app, name="demo", help="See the whole flow work: `voltstream demo report` (docs/demo.md).")
    app.add_typer(station_app, name="station", help="Manage a charging station remotely (commands over Kafka).")


_mount_services()


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@topics_app.command("apply")
def topics_apply() -> None:
    """Create missing topics and align their configuration with the registry (idempotent)."""
    from libs.events.admin import apply_topics

    try:
        changes = asyncio.run(apply_topics(KafkaSettings()))
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        _fail(f"topics apply failed: {exc!r}")
    for change in changes:
        if change.action != "unchanged" or change.detail:
            typer.echo(f"{change.action:17} {change.topic} {change.detail}".rstrip())
    created = sum(c.action == "created" for c in changes)
    typer.echo(f"topics: {len(changes)} in registry, {created} created")


@catalog_app.command("apply")
def catalog_apply(file: Path, timeout: float = typer.Option(60.0, help="seconds to read the topics")) -> None:
    """Validate FILE and publish it to the compacted reference topics.

    Removes what the file no longer contains (catalog-owned records only); an invalid file is
    rejected whole and nothing is published.
    """
    from libs.catalog.loader import CatalogError, load_catalog

    try:
        catalog = load_catalog(file)
    except CatalogError as exc:
        _fail(str(exc))
    report = asyncio.run(_apply_catalog(catalog, timeout))
    for line in report.published:
        typer.echo(f"published {line}")
    for line in report.removed:
        typer.echo(f"removed   {line}")
    for line in report.skipped:
        typer.echo(f"skipped   {line} (owned by another source)")
    typer.echo(f"catalog: {report.summary()}")


async def _apply_catalog(catalog, timeout: float):
    from libs.catalog.index import CatalogIndex
    from libs.catalog.publish import CatalogPublisher
    from libs.events.producer import EventProducer

    settings = KafkaSettings()
    index = CatalogIndex()
    await index.follow(settings)
    try:
        await index.wait_caught_up(timeout)
        async with EventProducer(settings, client_id="voltstream-catalog") as producer:
            return await CatalogPublisher(producer, index).apply(catalog)
    finally:
        await index.stop()


@catalog_app.command("validate")
def catalog_validate(file: Path) -> None:
    """Validate FILE without publishing anything."""
    from libs.catalog.loader import CatalogError, load_catalog

    try:
        catalog = load_catalog(file)
    except CatalogError as exc:
        _fail(str(exc))
    f = catalog.file
    typer.echo(
        f"ok: {len(f.locations)} locations, {sum(len(x.evses) for x in f.locations)} EVSEs, "
        f"{len(f.stations)} stations, {len(catalog.tariffs)} tariffs, {len(catalog.tokens)} tokens"
    )


@catalog_app.command("hash-key")
def catalog_hash_key(key: str = typer.Argument(None, help="the AuthorizationKey; read from stdin when omitted")) -> None:
    """Print the salted hash of a station AuthorizationKey for the catalog file."""
    from libs.catalog.credentials import hash_key

    key = key if key is not None else sys.stdin.readline().strip()
    if not 16 <= len(key) <= 40:
        _fail("an OCPP AuthorizationKey is 16 to 40 characters")
    typer.echo(hash_key(key))


@events_app.command("schema")
def events_schema(directory: Path) -> None:
    """Write a JSON Schema per event type into DIRECTORY."""
    from libs.events.schema import write_schemas

    written = write_schemas(directory)
    typer.echo(f"wrote {len(written)} schemas to {directory}")


@app.command("up")
def up_command(
    catalog: Path = typer.Option(Path("examples/catalog.yaml"), help="catalog file to apply"),
    detach: bool = typer.Option(False, help="return once everything is up (stop with `voltstream down`)"),
) -> None:
    """Run the whole system locally on embedded defaults (Kafka, chdb, SQLite)."""
    from voltstream.up import up

    up(catalog, detach)


@app.command("down")
def down_command() -> None:
    """Stop what `voltstream up` started."""
    from voltstream.up import down

    down()


if __name__ == "__main__":  # pragma: no cover
    app()
