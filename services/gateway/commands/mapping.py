"""Version mapping: a version-neutral command -> the OCPP CALL for the station's protocol, and
the charger's answer -> the one status a requester reads."""

from __future__ import annotations

from typing import Any

from libs.events.control import CommandKind
from services.gateway.commands import ocpp16, ocpp201
from services.gateway.commands.args import Args, BadArgs
from services.gateway.commands.target import Target
from services.gateway.errors import V16, V201

BUILDERS = {V16: ocpp16.BUILDERS, V201: ocpp201.BUILDERS}


def build_call(protocol: str, kind: CommandKind, args: Args, target: Target) -> tuple[str, dict[str, Any]]:
    builders = BUILDERS.get(protocol)
    if builders is None or kind not in builders:
        raise BadArgs(f"{kind.value} has no {protocol} mapping")
    return builders[kind](args, target)


def status_of(response: dict[str, Any]) -> str | None:
    """The charger's status: `status` where the message has one; for 2.0.1 Get/SetVariables the
    first non-Accepted attribute status (Accepted when all are); None otherwise (GetConfiguration,
    GetLocalListVersion answer with data only)."""
    if isinstance(response.get("status"), str):
        return response["status"]
    for field in ("setVariableResult", "getVariableResult"):
        results = response.get(field)
        if results:
            statuses = [r.get("attributeStatus") for r in results]
            return next((s for s in statuses if s != "Accepted"), "Accepted")
    return None
