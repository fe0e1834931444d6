"""Session state -> the published ChargingSession (pure, given the catalog enricher).

Identity per DESIGN.md / docs/events.md: the session_id a transaction fact carries wins; else 2.0.1
derives it from (station, transactionId) and 1.6 from (station, transaction id, start time), so a
1.6 transaction is published only once its start is known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from libs.catalog.index import short_alias
from libs.events import identity
from libs.events.sessions import AuthMethod, ChargingSession, SessionPeriod, SessionStatus, SessionToken
from services.sessions.enrichment import Enricher
from services.sessions.periods import compute, last_fact_time
from services.sessions.settings import RebootPolicy

INVALID_STOP_REASONS = {"DeAuthorized", "Deauthorized", "EVNotConnected", "Timeout", "InvalidToken"}


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def session_id_of(state: dict[str, Any]) -> str | None:
    if state["sid"]:
        return state["sid"]
    if state["proto"] == "2.0.1":
        return identity.session_id(state["station"], state["tx"], None)
    if state["start"] is not None:
        return identity.session_id(state["station"], state["tx"], dt(state["start"]["t"]))
    return None


def _close(state: dict[str, Any], policy: RebootPolicy) -> tuple[int | None, list[str]]:
    """When the session ended (None = still open) and the flags of how."""
    boots = sorted(int(b) for b in state["boots"])
    if state["end"] is not None:
        end = state["end"]["t"]
        return end, (["reboot_during_session"] if any(b < end for b in boots) else [])
    if not boots:
        return None, []
    if policy == RebootPolicy.KEEP:
        return None, ["reboot_during_session"]
    boot = boots[0]
    start = state["start"]["t"]
    before = [t for t in _times(state) if t <= boot]
    return max([start, *before]), ["closed_on_reboot"]


def _times(state: dict[str, Any]) -> list[int]:
    return [int(k) for part in ("e", "pw", "cur", "cs", "tok") for k in state[part]]


def _auth(state: dict[str, Any]) -> tuple[AuthMethod, str | None, dict[str, Any] | None]:
    """(method, authorization_reference, the remote start command's fact)."""
    start = state["start"]["t"] if state["start"] else 0
    if state["rs"]:
        by_id = [c for c in state["rs"].values() if c.get("rsid") is not None
                 and state["start"] and c["rsid"] == state["start"].get("rsid")]
        pool = by_id or list(state["rs"].values())
        cmd = max(pool, key=lambda c: (c["t"], str(c["id"])))
        return AuthMethod.COMMAND, cmd.get("ref"), cmd
    realtime = [a for a in state["auth"].values() if a.get("by") == "realtime" and a.get("status") == "Accepted"]
    if realtime:
        decision = min(realtime, key=lambda a: (abs(a["t"] - start), a["t"], str(a.get("ref"))))
        return AuthMethod.AUTH_REQUEST, decision.get("ref"), None
    return AuthMethod.WHITELIST, None, None


def project(state: dict[str, Any], enricher: Enricher, policy: RebootPolicy) -> ChargingSession | None:
    sid = session_id_of(state)
    last = last_fact_time(state)
    if sid is None or last is None:
        return None
    start_ms = state["start"]["t"] if state["start"] else min(_times(state) or [last])
    end_ms, flags = _close(state, policy)
    energy = compute(state, end_ms if end_ms is not None else max(last, start_ms))
    if energy.meter_reset:
        flags.append("meter_reset")
    meter_stop = None
    if state["end"] is not None:
        meter_stop = state["end"].get("m")
        if meter_stop is None:
            flags.append("stop_without_meter_value")
            meter_stop = energy.last_reading
    elif "closed_on_reboot" in flags:
        meter_stop = energy.last_reading
    if state["start"] is None:
        flags.append("start_missing")

    where = state["where"] or [0, None, None]
    evse = state["start"]["evse"] if state["start"] and state["start"].get("evse") is not None else where[1]
    conn = state["start"]["conn"] if state["start"] and state["start"].get("evse") is not None else where[2]
    place = enricher.place(state["station"], evse, conn)
    method, reference, command = _auth(state)
    command_uid = command.get("tok") if command else None
    token = None
    if state["tok"]:
        uid, ocpp_type = state["tok"][min(state["tok"], key=int)]
        token = enricher.token(uid, ocpp_type, place)
        if command_uid and command.get("cdr") and uid in (command_uid, short_alias(command_uid)):
            token = SessionToken(**command["cdr"])  # the START_SESSION token: what the eMSP authorised
    elif command_uid:
        token = SessionToken(**command["cdr"]) if command.get("cdr") else enricher.token(command_uid, "Central", place)

    if end_ms is not None:
        invalid = ("closed_on_reboot" in flags and policy == RebootPolicy.INVALID) or (
            energy.total_wh == 0 and (state["end"] or {}).get("reason") in INVALID_STOP_REASONS)
        status = SessionStatus.INVALID if invalid else SessionStatus.COMPLETED
    elif state["start"] is None:
        status = SessionStatus.PENDING
    elif state["start"].get("resv") is not None and energy.total_wh == 0 and "Charging" not in state["cs"].values():
        status = SessionStatus.RESERVATION
    else:
        status = SessionStatus.ACTIVE

    last_updated = max(state["rx"], state["final_at"] or 0)
    return ChargingSession(
        session_id=sid, version=state["v"], station_id=state["station"], evse_id=evse, connector_id=conn,
        transaction_ref=state["tx"], country_code=place.country_code, party_id=place.party_id,
        location_id=place.location_id, evse_uid=place.evse_uid, connector_uid=place.connector_uid,
        currency=place.currency, tariff_ids=list(place.tariff_ids), cdr_token=token, auth_method=method,
        authorization_reference=reference, start_date_time=dt(start_ms),
        end_date_time=dt(end_ms) if end_ms is not None else None,
        meter_start_wh=state["start"].get("m") if state["start"] else None, meter_stop_wh=meter_stop,
        kwh=(Decimal(str(energy.total_wh)) / 1000).normalize() + Decimal("0.000"),
        charging_periods=[
            SessionPeriod(start_date_time=dt(p.start), end_date_time=dt(p.end), state=p.state,
                          energy_wh=p.energy_wh, max_power_w=p.max_power_w, min_power_w=p.min_power_w,
                          max_current_a=p.max_current_a, min_current_a=p.min_current_a)
            for p in energy.periods
        ],
        status=status, last_updated=dt(last_updated), final=state["final"], amended=state["amended"],
        flags=sorted(set(flags)),
        signed_data=[{"timestamp": dt(int(t)).isoformat(), "value": v}
                     for t, v in sorted(state["signed"].items(), key=lambda kv: int(kv[0]))],
    )
