"""The pure session state machine: facts in, new state out. No I/O, no clock.

A session state is a JSON-able dict of facts keyed by their natural identity (time, phase, command
id), so absorbing is idempotent (a duplicate changes nothing) and commutative (any arrival order
gives the same state). `v`, the session's version, counts the distinct facts absorbed plus the
finality mark: it is monotonic and does not depend on arrival order or batching, so a replay after
a crash reaches the same version with the same content.

Station facts (boots, remote start commands, authorisation decisions) are copied into every session
they relate to; whether they relate depends only on fields that never change once set (the start
event, the tokens seen), so the copy is order independent too.
"""

from __future__ import annotations

from typing import Any

from libs.catalog.index import short_alias
from services.sessions.facts import SessionFact, StationFact
from services.sessions.periods import last_fact_time

State = dict[str, Any]


def new_session(fact: SessionFact) -> State:
    return {
        "key": fact.key, "station": fact.station_id, "tx": fact.transaction_ref, "proto": None, "sid": None,
        "v": 0, "rx": 0, "final": False, "amended": False, "final_at": None,
        "start": None, "end": None, "where": None,
        "tok": {}, "cs": {}, "e": {}, "pw": {}, "cur": {}, "signed": {},
        "boots": {}, "rs": {}, "auth": {},
    }


def _put(mapping: dict[str, Any], key: str, value: Any) -> bool:
    if key in mapping:
        return False
    mapping[key] = value
    return True


def _bump(state: State, added: int, amends: bool = True) -> int:
    if added:
        state["v"] += added
        if state["final"] and amends:
            state["amended"] = True  # a late change after finality: billing credits and re-issues
    return added


def absorb(state: State, fact: SessionFact) -> int:
    """Absorb one transaction / meter fact; returns how many new facts it added (0 = duplicate)."""
    d, t = fact.data, str(fact.t)
    added = 0
    # facts the session carries regardless of kind; the smallest value wins so order never matters
    if fact.proto and (state["proto"] is None or fact.proto < state["proto"]):
        state["proto"] = fact.proto
    if d.get("sid") and (state["sid"] is None or d["sid"] < state["sid"]):
        state["sid"] = d["sid"]
    if d.get("evse") is not None:
        where = [fact.t, d["evse"], d.get("conn")]
        if state["where"] is None or where < state["where"]:
            state["where"] = where
    kind = fact.kind
    if kind in ("started", "updated", "ended"):
        if d.get("tok") and d["tok"][0]:
            added += _put(state["tok"], t, d["tok"])
        if d.get("cs"):
            added += _put(state["cs"], t, d["cs"])
        if kind == "started":
            start = {"t": fact.t, "m": d.get("m"), "rsid": d.get("rsid"), "resv": d.get("resv"),
                     "evse": d.get("evse"), "conn": d.get("conn")}
            if state["start"] is None or (start["t"], str(start)) < (state["start"]["t"], str(state["start"])):
                added += state["start"] is None
                state["start"] = start
        elif kind == "ended":
            end = {"t": fact.t, "m": d.get("m"), "reason": d.get("reason")}
            if state["end"] is None or (end["t"], str(end)) < (state["end"]["t"], str(state["end"])):
                added += state["end"] is None
                state["end"] = end
    elif kind == "energy":
        added += _put(state["e"], t, d["wh"])
        if d.get("signed") is not None:
            _put(state["signed"], t, d["signed"])
    elif kind == "power":
        added += _put(state["pw"].setdefault(t, {}), d["phase"], d["w"])
    elif kind == "current":
        added += _put(state["cur"].setdefault(t, {}), d["phase"], d["a"])
    if added:
        state["rx"] = max(state["rx"], fact.rx)
    return _bump(state, added)


def tokens(state: State) -> set[str]:
    return {tok[0] for tok in state["tok"].values()}


def relates(state: State, fact: StationFact, windows: dict[str, float]) -> bool:
    """Whether a station fact concerns this session.

    It depends only on fields fixed once set or that only grow (start, tokens, the latest fact's time), so
    a fact that relates keeps relating whatever arrives later, and the version (which counts the
    facts) is the same in any arrival order.
    """
    start = state["start"]
    if start is None:
        return False
    d = fact.data
    if fact.kind == "boot":
        return start["t"] < fact.t <= start["t"] + windows["reboot"] * 1000
    evse_ok = d.get("evse") in (None, start.get("evse"))
    if fact.kind == "remote_start":
        if d.get("rsid") is not None and start.get("rsid") is not None:
            return d["rsid"] == start["rsid"]
        tok = d.get("tok")  # a 1.6 charger presents a uid over 20 characters by its alias
        seen = tokens(state)
        return (evse_ok and tok is not None and (tok in seen or short_alias(tok) in seen)
                and fact.t <= start["t"] <= fact.t + windows["remote_start"] * 1000)
    if fact.kind == "auth":
        # The decision must fall while the session was still going (one of its facts at or after it):
        # the same card authorising the next session minutes later is not this session's.
        return (evse_ok and d.get("tok") in tokens(state) and abs(start["t"] - fact.t) <= windows["auth"] * 1000
                and fact.t <= last_fact_time(state))
    return False


def absorb_station_fact(state: State, fact: StationFact, windows: dict[str, float]) -> int:
    if not relates(state, fact, windows):
        return 0
    t = str(fact.t)
    if fact.kind == "boot":
        added = _put(state["boots"], t, 1)
        # A boot after the session's own end is the station's next life: counted (so the version is
        # the same whichever of the two arrived first) but changing nothing (`_close` ignores it),
        # so no amendment; billing finds the CDR unchanged and issues nothing.
        if state["end"] is not None and state["end"]["t"] < fact.t:
            return _bump(state, added, amends=False)
    elif fact.kind == "remote_start":
        added = _put(state["rs"], str(fact.data["id"]), {"t": fact.t, **fact.data})
    else:
        added = _put(state["auth"], f"{t}/{fact.data.get('evse')}/{fact.data.get('tok')}", {"t": fact.t, **fact.data})
    return _bump(state, added)


# --- the station: its facts and the sessions that may relate to them ------------------------------

def new_station(station_id: str) -> State:
    return {"station": station_id, "facts": {}, "sessions": {}, "hi": 0}


def station_fact_key(fact: StationFact) -> str:
    return f"{fact.kind}/{fact.t}/{fact.data.get('id') or fact.data.get('tok') or ''}/{fact.data.get('evse')}"


def remember_station_fact(station: State, fact: StationFact) -> bool:
    station["hi"] = max(station["hi"], fact.t)
    return _put(station["facts"], station_fact_key(fact), {"kind": fact.kind, "t": fact.t, "data": fact.data})


def station_facts(station: State) -> list[StationFact]:
    return [StationFact(station["station"], f["kind"], f["t"], f["data"]) for f in station["facts"].values()]


def track_session(station: State, state: State) -> bool:
    """Index a started session under its station so later station facts can find it."""
    if state["start"] is None:
        return False
    station["hi"] = max(station["hi"], state["start"]["t"])
    return _put(station["sessions"], state["key"], state["start"]["t"])


def prune_station(station: State, memory_s: float) -> None:
    """Forget station facts and session index entries far older than the station's newest fact."""
    horizon = station["hi"] - memory_s * 1000
    station["facts"] = {k: f for k, f in station["facts"].items() if f["t"] >= horizon}
    station["sessions"] = {k: t for k, t in station["sessions"].items() if t >= horizon}


def absorb_related(state: State, station: State, windows: dict[str, float]) -> int:
    """Copy every remembered station fact that relates to this session (after it changed)."""
    return sum(absorb_station_fact(state, f, windows) for f in station_facts(station))


# --- finality ----------------------------------------------------------------------------------

def completed(state: State, reboot_policy: str) -> bool:
    return state["end"] is not None or (reboot_policy != "keep" and bool(state["boots"]))


def finality_due(state: State, reboot_policy: str, grace_s: float) -> int | None:
    """Gateway-clock ms at which this session becomes final, or None (not completed / already final)."""
    if state["final"] or not completed(state, reboot_policy):
        return None
    return state["rx"] + int(grace_s * 1000)


def finalize(state: State, at_ms: int) -> None:
    state["final"] = True
    state["final_at"] = at_ms
    state["v"] += 1
