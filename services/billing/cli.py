"""`voltstream billing` (the service) and `voltstream cdr credit ID` (credit a CDR by hand, re-bill)."""

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
def credit(
    cdr_id: str,
    no_reissue: bool = typer.Option(False, "--no-reissue", help="Only the credit: do not bill the session again."),
) -> None:
    """Credit CDR_ID (negated total_cost, credit_reference_id = CDR_ID) and bill its session again.

    The new CDR prices the session's latest final version (topic `sessions`) with the current catalog.

    Refused, with nothing issued, when the session cannot be priced (see docs/tariffs.md).
    """
    from libs.events.bus import KafkaSettings
    from services.billing.credit import CreditRefused, credit_by_hand

    try:
        result = asyncio.run(credit_by_hand(KafkaSettings(), cdr_id, reissue=not no_reissue))
    except CreditRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    credit = result.credit
    typer.echo(f"credited {cdr_id}: credit CDR {credit.cdr_id} total_cost {credit.cdr['total_cost']}")
    new = result.reissued
    if new is not None:
        typer.echo(f"re-issued session {new.session_id} version {new.session_version}: "
                   f"new CDR {new.cdr_id} total_cost {new.cdr['total_cost']}")
