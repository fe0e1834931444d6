"""`voltstream station …`: remote management of chargers for operators, on the commands library.

    voltstream station list
    voltstream station ID reset [--hard]
    voltstream station ID config get [KEY…] | config set KEY VALUE
    voltstream station ID firmware URL | logs URL | trigger MESSAGE | unlock EVSE
    voltstream station ID start TOKEN [--evse N] | stop SESSION | availability operative|inoperative
    voltstream station ID reserve TOKEN | cancel-reservation ID
    voltstream station ID profile set|clear|schedule
    voltstream station ID rotate-key | clear-cache | local-list [--full] | local-list-version | data-transfer VENDOR

Every command prints the charger's answer (outcome, status, the answer's payload) and exits 0
when the charger answered, 2 otherwise (station_offline, timeout, charger_timeout, call_error,
rejected_by_gateway). Kafka comes from VOLTSTREAM_KAFKA_*.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from libs.events.bus import KafkaSettings
from libs.events.control import CommandAnswer, CommandKind, CommandOutcome

station_app = typer.Typer(no_args_is_help=True, help="Remote management of charging stations (OCPP 1.6 / 2.0.1).")
config_app = typer.Typer(no_args_is_help=True, help="Station configuration (1.6 keys, 2.0.1 'Component.Variable').")
profile_app = typer.Typer(no_args_is_help=True, help="Smart charging profiles.")
station_app.add_typer(config_app, name="config")
station_app.add_typer(profile_app, name="profile")


@station_app.callback(invoke_without_command=True)
def station(ctx: typer.Context,
            station_id: str = typer.Argument(..., metavar="ID", help="the station id, or `list`"),
            timeout: float = typer.Option(60.0, help="seconds to wait for the charger's answer"),
            as_json: bool = typer.Option(False, "--json", help="print the whole answer as JSON")) -> None:
    """Send a command to station ID and print the charger's answer; `station list` shows presence."""
    ctx.obj = {"station_id": station_id, "timeout": timeout, "json": as_json}
    if ctx.invoked_subcommand is None:
        if station_id != "list":
            typer.echo(ctx.get_help())
            raise typer.Exit(2)
        asyncio.run(_list())


# --- plumbing --------------------------------------------------------------------------------

def _send(ctx: typer.Context, kind: CommandKind, args: dict[str, Any] | None = None) -> None:
    obj = ctx.obj  # set by the `station` callback, inherited by every subcommand
    answer = asyncio.run(_request(obj["station_id"], kind, {k: v for k, v in (args or {}).items() if v is not None},
                                  obj["timeout"]))
    _print(answer, obj["json"])
    raise typer.Exit(0 if answer.outcome == CommandOutcome.ANSWERED else 2)


async def _request(station_id: str, kind: CommandKind, args: dict[str, Any], timeout: float) -> CommandAnswer:
    from libs.commands.client import open_client

    async with open_client(KafkaSettings(), client_id="voltstream-station-cli") as client:
        return await client.send(station_id, kind, args, timeout_s=timeout,
                                 reply_context={"requester": "cli"})


def _print(answer: CommandAnswer, as_json: bool) -> None:
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    head = answer.outcome.value + (f" {answer.status}" if answer.status else "")
    typer.echo(head + (f": {answer.error}" if answer.error else ""))
    if answer.response:
        typer.echo(json.dumps(answer.response, indent=2, sort_keys=True))


async def _list() -> None:
    from libs.catalog.presence import PresenceView

    view = PresenceView()
    await view.follow(KafkaSettings())
    try:
        await view.wait_caught_up(30)
        stations = view.stations()
        for station_id in sorted(stations):
            p = view.presence(station_id)
            state = "online " if stations[station_id] else "offline"
            typer.echo(f"{station_id:<24} {state} {p.gateway_instance if p else '-':<20} since {p.since.isoformat() if p else '-'}")
        typer.echo(f"{sum(stations.values())} of {len(stations)} stations online")
    finally:
        await view.stop()


async def _transaction_of(session_id: str, timeout: float = 30.0) -> str | None:
    """The charger's transaction id of a voltstream session id (from the sessions topic)."""
    from libs.events.follower import TopicFollower

    found: dict[str, str] = {}

    def on_record(_topic, key, event) -> None:
        if event is not None and key == session_id:
            found["ref"] = event.payload.transaction_ref

    follower = TopicFollower(KafkaSettings(), ["sessions"], on_record)
    await follower.start()
    try:
        await follower.wait_caught_up(timeout)
    finally:
        await follower.stop()
    return found.get("ref")


# --- commands --------------------------------------------------------------------------------

@station_app.command("reset")
def reset(ctx: typer.Context, hard: bool = typer.Option(False, "--hard", help="hard reset (2.0.1 Immediate)")) -> None:
    """Reset the station: soft (2.0.1 OnIdle) or --hard (2.0.1 Immediate)."""
    _send(ctx, CommandKind.RESET, {"hard": hard})


@config_app.command("get")
def config_get(ctx: typer.Context, keys: list[str] = typer.Argument(None, help="keys; none = all (1.6)")) -> None:
    """Read configuration keys (1.6 GetConfiguration / 2.0.1 GetVariables)."""
    _send(ctx, CommandKind.GET_CONFIGURATION, {"keys": keys or []})


@config_app.command("set")
def config_set(ctx: typer.Context, key: str, value: str) -> None:
    """Change one key (1.6 ChangeConfiguration / 2.0.1 SetVariables). Keys: use rotate-key."""
    _send(ctx, CommandKind.SET_CONFIGURATION, {"key": key, "value": value})


@config_app.command("report")
def config_report(ctx: typer.Context, base: str = typer.Option("FullInventory")) -> None:
    """Ask for the full report (2.0.1 GetBaseReport; 1.6 GetConfiguration of every key)."""
    _send(ctx, CommandKind.GET_BASE_REPORT, {"report_base": base})


@station_app.command("firmware")
def firmware(ctx: typer.Context, url: str,
             at: datetime = typer.Option(None, help="retrieve at (UTC); default now"),
             retries: int = typer.Option(None)) -> None:
    """Update the firmware from URL."""
    _send(ctx, CommandKind.UPDATE_FIRMWARE, {"location": url, "retrieve_at": _utc(at), "retries": retries})


@station_app.command("logs")
def logs(ctx: typer.Context, url: str, security: bool = typer.Option(False, "--security", help="security log (2.0.1)"),
         hours: float = typer.Option(None, help="only the last HOURS")) -> None:
    """Upload diagnostics / logs to URL (1.6 GetDiagnostics / 2.0.1 GetLog)."""
    oldest = (datetime.now(UTC) - timedelta(hours=hours)).isoformat() if hours else None
    _send(ctx, CommandKind.GET_DIAGNOSTICS, {"location": url, "oldest": oldest,
                                             "log_type": "SecurityLog" if security else "DiagnosticsLog"})


@station_app.command("trigger")
def trigger(ctx: typer.Context, message: str, evse: int = typer.Option(None)) -> None:
    """Ask the station to send MESSAGE (BootNotification, Heartbeat, StatusNotification, …)."""
    _send(ctx, CommandKind.TRIGGER_MESSAGE, {"message": message, "evse_id": evse})


@station_app.command("unlock")
def unlock(ctx: typer.Context, evse: int, connector: int = typer.Option(1)) -> None:
    """Unlock the connector of EVSE (1.6 connectorId)."""
    _send(ctx, CommandKind.UNLOCK_CONNECTOR, {"evse_id": evse, "connector_id": connector})


@station_app.command("start")
def start(ctx: typer.Context, token: str, evse: int = typer.Option(None),
          token_type: str = typer.Option(None, "--type", help="RFID, APP_USER, … (2.0.1 idToken type)")) -> None:
    """Start a charge for TOKEN (1.6 RemoteStartTransaction / 2.0.1 RequestStartTransaction)."""
    _send(ctx, CommandKind.REMOTE_START, {"id_token": token, "evse_id": evse, "token_type": token_type})


@station_app.command("stop")
def stop(ctx: typer.Context, session: str = typer.Argument(..., help="voltstream session id or the charger's transaction id")) -> None:
    """Stop a charge (1.6 RemoteStopTransaction / 2.0.1 RequestStopTransaction)."""
    transaction = session
    if _is_uuid(session):
        transaction = asyncio.run(_transaction_of(session))
        if transaction is None:
            typer.echo(f"unknown session {session}", err=True)
            raise typer.Exit(2)
    _send(ctx, CommandKind.REMOTE_STOP, {"transaction_id": transaction})


@station_app.command("availability")
def availability(ctx: typer.Context, state: str = typer.Argument(..., help="operative | inoperative"),
                 evse: int = typer.Option(0, help="0 = the whole station")) -> None:
    """Change availability of the station or one EVSE."""
    if state.lower() not in ("operative", "inoperative"):
        raise typer.BadParameter("operative or inoperative")
    _send(ctx, CommandKind.CHANGE_AVAILABILITY, {"operative": state.lower() == "operative", "evse_id": evse})


@station_app.command("reserve")
def reserve(ctx: typer.Context, token: str, minutes: int = typer.Option(15), evse: int = typer.Option(None),
            reservation_id: int = typer.Option(None, "--id")) -> None:
    """Reserve an EVSE (or any) for TOKEN for MINUTES."""
    expires = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    _send(ctx, CommandKind.RESERVE_NOW, {"id_token": token, "expires": expires, "evse_id": evse,
                                         "reservation_id": reservation_id})


@station_app.command("cancel-reservation")
def cancel_reservation(ctx: typer.Context, reservation_id: int) -> None:
    """Cancel a reservation."""
    _send(ctx, CommandKind.CANCEL_RESERVATION, {"reservation_id": reservation_id})


@profile_app.command("set")
def profile_set(ctx: typer.Context, limit: float = typer.Option(...), unit: str = typer.Option("A"),
                evse: int = typer.Option(0), profile_id: int = typer.Option(1, "--id"),
                purpose: str = typer.Option("tx_default", help="station_max, tx_default, tx, external (2.0.1)"),
                stack_level: int = typer.Option(0, "--stack-level")) -> None:
    """Set a constant-limit charging profile."""
    _send(ctx, CommandKind.SET_CHARGING_PROFILE, {"evse_id": evse, "profile": {
        "id": profile_id, "stack_level": stack_level, "purpose": purpose, "kind": "Absolute",
        "schedule": {"rate_unit": unit, "start": datetime.now(UTC).isoformat(),
                     "periods": [{"start": 0, "limit": limit}]}}})


@profile_app.command("clear")
def profile_clear(ctx: typer.Context, profile_id: int = typer.Option(None, "--id"), evse: int = typer.Option(None),
                  purpose: str = typer.Option(None)) -> None:
    """Clear charging profiles (by id, or by EVSE / purpose; none = all)."""
    _send(ctx, CommandKind.CLEAR_CHARGING_PROFILE, {"profile_id": profile_id, "evse_id": evse, "purpose": purpose})


@profile_app.command("schedule")
def profile_schedule(ctx: typer.Context, duration: int = typer.Option(3600), evse: int = typer.Option(0),
                     unit: str = typer.Option(None)) -> None:
    """Get the composite schedule of an EVSE (0 = the station)."""
    _send(ctx, CommandKind.GET_COMPOSITE_SCHEDULE, {"evse_id": evse, "duration": duration, "rate_unit": unit})


@station_app.command("rotate-key")
def rotate_key(ctx: typer.Context) -> None:
    """Rotate the station's AuthorizationKey: generated and set by the gateway, never shown."""
    _send(ctx, CommandKind.ROTATE_KEY)


@station_app.command("clear-cache")
def clear_cache(ctx: typer.Context) -> None:
    """Clear the station's authorisation cache."""
    _send(ctx, CommandKind.CLEAR_CACHE)


@station_app.command("local-list")
def local_list(ctx: typer.Context, full: bool = typer.Option(False, "--full", help="send the whole list")) -> None:
    """Sync the station's local authorisation list with the tokens now."""
    _send(ctx, CommandKind.SEND_LOCAL_LIST, {"full": full})


@station_app.command("local-list-version")
def local_list_version(ctx: typer.Context) -> None:
    """Read the station's local list version."""
    _send(ctx, CommandKind.GET_LOCAL_LIST_VERSION)


@station_app.command("data-transfer")
def data_transfer(ctx: typer.Context, vendor: str, message_id: str = typer.Option(None), data: str = typer.Option(None)) -> None:
    """Send a vendor-specific DataTransfer."""
    _send(ctx, CommandKind.DATA_TRANSFER, {"vendor_id": vendor, "message_id": message_id, "data": data})


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
