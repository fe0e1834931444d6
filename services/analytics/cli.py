"""`voltstream analytics` (the sink), `voltstream analytics migrate`, `voltstream analytics query`."""

from __future__ import annotations

import sys

import typer

analytics_app = typer.Typer(help="Analytics sink: Kafka -> ClickHouse, migrations, read-only queries.",
                            invoke_without_command=True)


@analytics_app.callback()
def command(ctx: typer.Context) -> None:
    """Run the analytics sink (Kafka -> ClickHouse) and, in embedded mode, the query endpoint."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from libs.service.logging import configure_logging
    from libs.service.runner import serve_until_signalled
    from services.analytics.app import AnalyticsService
    from services.analytics.settings import AnalyticsSettings

    settings = AnalyticsSettings()
    configure_logging("analytics", settings.log_level)

    async def main() -> None:  # Kafka clients are created inside the running loop
        await serve_until_signalled(AnalyticsService(settings))

    asyncio.run(main())


@analytics_app.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations (deploy/clickhouse) idempotently, then exit."""
    import clickhouse_connect

    from services.analytics.migrations import migrate
    from services.analytics.settings import AnalyticsSettings

    settings = AnalyticsSettings()
    client = clickhouse_connect.get_client(dsn=settings.dsn)
    try:
        applied = migrate(client, settings.migrations_dir, settings.template_values())
    finally:
        client.close()
    for m in applied:
        typer.echo(f"applied {m.version:04d}_{m.name}")
    typer.echo(f"schema up to date ({len(applied)} applied now)")


_FORMATS = {"pretty": "PrettyCompactMonoBlock", "csv": "CSVWithNames", "json": "JSON"}


@analytics_app.command("query")
def query_command(
    sql: str = typer.Argument(..., help="SQL to run (read-only)"),
    format: str = typer.Option("pretty", "--format", "-f", help="pretty | csv | json"),  # noqa: A002
    url: str = typer.Option(None, help="endpoint, default http://<query_host>:<query_port>"),
) -> None:
    """Run a read-only query through the analytics query endpoint and print the result."""
    import httpx

    from services.analytics.settings import AnalyticsSettings

    if format not in _FORMATS:
        typer.echo(f"--format must be one of {', '.join(_FORMATS)}", err=True)
        raise typer.Exit(2)
    settings = AnalyticsSettings()
    base = url or f"http://{settings.query_host}:{settings.query_port}/"
    try:
        response = httpx.post(base, params={"database": settings.database, "default_format": _FORMATS[format]},
                              content=sql.encode(), timeout=settings.query_max_execution_s + 5)
    except httpx.HTTPError as exc:
        typer.echo(f"query endpoint {base} unreachable: {exc}", err=True)
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        typer.echo(response.text.strip(), err=True)
        raise typer.Exit(1)
    sys.stdout.write(response.text)


def main() -> None:
    analytics_app()
