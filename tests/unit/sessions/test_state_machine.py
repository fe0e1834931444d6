"""The pure session state machine: facts in, session out (no Kafka)."""

from __future__ import annotations

import random
from decimal import Decimal

from libs.catalog.index import CatalogIndex
from libs.events import identity
from libs.events.sessions import AuthMethod, PeriodState, SessionStatus
from services.sessions import state as sm
from services.sessions.enrichment import Enricher
from services.sessions.facts import to_fact
from services.sessions.processor import Batch
from services.sessions.projection import project
from services.sessions.settings import SessionsSettings
from tests.integration.sessions.harness import replay
from tests.integration.sessions.streams import Charger, standard_session


def only(sessions):
    (session,) = sessions.values()
    return session


def test_duplicates_change_nothing_and_keep_the_version():
    _, events = standard_session(Charger("U1", "2.0.1"))
    state = None
    for e in events:
        fact = to_fact(e)
        state = state or sm.new_session(fact)
        sm.absorb(state, fact)
    version = state["v"]
    assert all(sm.absorb(state, to_fact(e)) == 0 for e in events)
    assert state["v"] == version == 21


def test_any_arrival_order_gives_the_same_session():
    _, events = standard_session(Charger("U2", "1.6", with_session_id=True))
    expected = replay(events)
    for seed in range(5):
        shuffled = random.Random(seed).sample(events, len(events))
        assert replay(shuffled) == expected


def test_periods_split_by_state_with_energy_and_power():
    session = only(replay(standard_session(Charger("U3", "2.0.1"))[1]))
    assert [(p.state, p.energy_wh) for p in session.charging_periods] == [
        (PeriodState.CHARGING, 5500.0), (PeriodState.SUSPENDED, 0.0), (PeriodState.CHARGING, 1500.0),
        (PeriodState.IDLE, 0.0)]
    assert session.charging_periods[0].max_power_w == 11000.0
    assert session.charging_periods[2].max_power_w == 9000.0  # derived: 1500 Wh in 10 min
    assert session.kwh == Decimal("7.000") and session.status == SessionStatus.COMPLETED


def test_session_ids_follow_the_design():
    c16, c201 = Charger("U4", "1.6"), Charger("U5", "2.0.1")
    ref16, ev16 = standard_session(c16)
    ref201, ev201 = standard_session(c201)
    assert only(replay(ev16)).session_id == identity.session_id("U4", ref16, c16.t(0))
    assert only(replay(ev201)).session_id == identity.session_id("U5", ref201, None)


def test_a_1_6_transaction_without_start_is_not_published_yet():
    c = Charger("U6", "1.6")
    _, events = standard_session(c)
    samples = [e for e in events if e.type == "meter.sampled"]
    assert replay(samples) == {}
    assert only(replay(samples + events)).kwh == Decimal("7.000")


def test_2_0_1_updated_before_started_is_pending():
    c = Charger("U7", "2.0.1")
    session = only(replay([c.updated("T", 1, seq=1, charging_state="EVConnected")]))
    assert session.status == SessionStatus.PENDING and "start_missing" in session.flags


def test_meter_reset_never_counts_negative_energy():
    c = Charger("U8", "1.6")
    ref = c.tx_ref("A", 100, 0)
    s = only(replay([c.started(ref, 0, 100, "A"), c.sample(ref, 5, 600), c.sample(ref, 6, 10),
                     c.ended(ref, 10, 410)]))
    assert s.kwh == Decimal("0.900") and "meter_reset" in s.flags


def reboot_stream():
    c = Charger("U9", "1.6")
    ref = c.tx_ref("A", 0, 0)
    return c, [c.started(ref, 0, 0, "A"), c.sample(ref, 10, 1000), c.boot(15)]


def test_reboot_policies():
    c, events = reboot_stream()
    closed = only(replay(events, reboot_policy="close"))
    assert closed.status == SessionStatus.COMPLETED and closed.end_date_time == c.t(10)
    invalid = only(replay(events, reboot_policy="invalid"))
    assert invalid.status == SessionStatus.INVALID and "closed_on_reboot" in invalid.flags
    kept = only(replay(events, reboot_policy="keep"))
    assert kept.status == SessionStatus.ACTIVE and kept.flags == ["reboot_during_session"]


def test_a_stop_before_the_boot_wins_over_the_reboot_closure():
    c, events = reboot_stream()
    ref = events[0].payload.transaction_ref
    s = only(replay([*events, c.ended(ref, 12, 1200)]))
    assert s.end_date_time == c.t(12) and "closed_on_reboot" not in s.flags and s.kwh == Decimal("1.200")


def test_1_6_remote_start_outside_the_window_is_not_a_command():
    c = Charger("U10", "1.6")
    ref = c.tx_ref("A", 0, 0)
    late = only(replay([c.remote_start(-30, "A", "R"), c.started(ref, 0, 0, "A")]))
    assert late.auth_method == AuthMethod.WHITELIST
    ok = only(replay([c.started(ref, 0, 0, "A"), c.remote_start(-1, "A", "R")]))
    assert (ok.auth_method, ok.authorization_reference) == (AuthMethod.COMMAND, "R")


def test_finality_then_a_late_fact_amends():
    settings = SessionsSettings(finality_grace_s=60)
    c = Charger("U11", "2.0.1")
    _, events = standard_session(c)
    sessions: dict = {}
    batch = Batch(settings, sessions.get, {}.get)
    for e in events[:-1]:
        batch.add(to_fact(e), 0)
    (state,) = batch.sessions.values()
    assert sm.finality_due(state, "close", 60) is None  # still open
    batch.add(to_fact(events[-1]), 0)
    due = sm.finality_due(state, "close", 60)
    assert due == state["rx"] + 60_000
    sm.finalize(state, due)
    v = state["v"]
    assert state["final"] and not state["amended"] and sm.finality_due(state, "close", 60) is None
    batch.add(to_fact(c.sample(events[0].payload.transaction_ref, 45, 7400, measurand="Power.Active.Import",
                               unit="W")), 0)
    assert state["amended"] and state["final"] and state["v"] == v + 1


def sm_project(state):
    settings = SessionsSettings()
    enricher = Enricher(CatalogIndex(), settings.operator_country_code, settings.operator_party_id,
                        settings.default_currency)
    return project(state, enricher, settings.reboot_policy)


def finalized_short_session(c):
    """A 2-minute session, final; returns (batch, state, tx ref) to feed later station facts."""
    settings = SessionsSettings(finality_grace_s=30)
    ref = c.tx_ref("CARD", 0, 0)
    stations: dict = {}
    batch = Batch(settings, {}.get, stations.get)
    for e in [c.authorized(-0.1, "CARD", None, decided_by="index"), c.started(ref, 0, 0, "CARD"),
              c.sample(ref, 1, 500), c.ended(ref, 2, 1000)]:
        batch.add(to_fact(e), 0)
    (state,) = batch.sessions.values()
    assert len(state["auth"]) == 1  # the decision that let the session start relates
    sm.finalize(state, sm.finality_due(state, "close", 30))
    return batch, state, ref


def test_the_same_card_starting_the_next_session_does_not_amend_the_last_one():
    c = Charger("U12", "1.6")
    batch, state, _ = finalized_short_session(c)
    v = state["v"]
    batch.add(to_fact(c.authorized(3, "CARD", None, decided_by="index")), 0)  # inside the 300 s window
    assert (state["v"], state["amended"], len(state["auth"])) == (v, False, 1)


def test_a_reboot_after_the_session_ended_does_not_amend_it():
    c = Charger("U13", "2.0.1")
    batch, state, _ = finalized_short_session(c)
    v = state["v"]
    before = sm_project(state)
    batch.add(to_fact(c.boot(10)), 0)  # the station's next life, within the 48 h reboot window
    # counted, so the version is the same in any arrival order (next test), but no amendment and
    # nothing in the session changes (billing then finds the CDR unchanged)
    assert (state["v"], state["amended"], len(state["boots"])) == (v + 1, False, 1)
    assert sm_project(state).model_dump(exclude={"version"}) == before.model_dump(exclude={"version"})


def test_a_stop_queued_across_a_reboot_gives_the_same_session_in_any_order():
    c = Charger("U14", "1.6")
    ref = c.tx_ref("A", 0, 0)
    events = [c.started(ref, 0, 0, "A"), c.sample(ref, 5, 800), c.ended(ref, 8, 900), c.boot(10)]
    expected = only(replay(events))
    assert expected.end_date_time == c.t(8) and "reboot_during_session" not in expected.flags
    reordered = only(replay([events[0], events[1], events[3], events[2]]))  # the queued stop after the boot
    assert reordered.model_dump() == expected.model_dump()  # version included
