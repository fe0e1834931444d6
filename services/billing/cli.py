"""`voltstream billing` (the service) and `voltstream cdr credit ID` (credit a CDR by hand)."""

from __future__ import annotations

import asyncio

import typer

cdr_app = typer.Typer(no_args_is_help=True, help="Charge detail records.")


@cdr_app.callback()
def cdr_group() -> None:
    """Charge detail records (OCPI 2.2.1 CDRs on the `cdrs` topic)."""


def command() -> None:
    """Run the billing service: final sessions -> priced OCPI 2.2.1 CDRs on `cdrs`."""
    from libs.service.logging import configure_logging
    from libs.service.runner import run_service
    from services.billing.app import BillingService
    from services.billing.settings import BillingSettings

    settings = BillingSettings()
    configure_logging("billing", settings.log_level)
    run_service(BillingService(settings=settings))


@cdr_app.command("credit")
def credit(cdr_id: str) -> None:
    """Issue the credit CDR of CDR_ID (negated total_cost, credit_reference_id = CDR_ID)."""
    from libs.events.bus import KafkaSettings
    from services.billing.credit import CreditRefused, credit_by_hand

    try:
        record = asyncio.run(credit_by_hand(KafkaSettings(), cdr_id))
    except CreditRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    total = record.cdr["total_cost"]
    typer.echo(f"credited {cdr_id}: credit CDR {record.cdr_id} total_cost {total}")
