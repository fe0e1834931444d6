"""A `ChargingSession` event (libs/events/sessions.py) as the engine's input."""

from __future__ import annotations

from decimal import Decimal

from libs.events.sessions import ChargingSession, PeriodState
from libs.tariffs.model import ImpossibleSession, Reservation, Segment, SegmentState, SessionInput
from libs.tariffs.money import WH_PER_KWH, ZERO, dec

_STATE = {
    PeriodState.CHARGING: SegmentState.CHARGING,
    PeriodState.SUSPENDED: SegmentState.SUSPENDED,
    PeriodState.IDLE: SegmentState.IDLE,
}


def _kw(watts: float | None) -> Decimal | None:
    return None if watts is None else dec(watts) / WH_PER_KWH


def _a(amps: float | None) -> Decimal | None:
    return None if amps is None else dec(amps)


def session_input(session: ChargingSession, time_zone: str, reservation: Reservation | None = None) -> SessionInput:
    """Segments from the session's charging_periods; a session without periods is one charging
    segment carrying `kwh`. Raises ImpossibleSession for data that cannot be priced."""
    end = session.end_date_time
    if end is None:
        end = session.charging_periods[-1].end_date_time if session.charging_periods else None
    if end is None:
        raise ImpossibleSession("no_end_time", "a final session needs end_date_time")
    segments: list[Segment] = []
    for p in session.charging_periods:
        energy = dec(p.energy_wh)
        if not energy.is_finite():
            raise ImpossibleSession("invalid_energy", f"period starting {p.start_date_time}")
        segments.append(Segment(
            start=p.start_date_time, end=p.end_date_time, state=_STATE[p.state], energy_wh=energy,
            max_power_kw=_kw(p.max_power_w), min_power_kw=_kw(p.min_power_w),
            max_current_a=_a(p.max_current_a), min_current_a=_a(p.min_current_a),
        ))
    total_wh = sum((s.energy_wh for s in segments), ZERO)
    if not segments:
        segments.append(Segment(session.start_date_time, end, SegmentState.CHARGING, session.kwh * WH_PER_KWH))
    elif total_wh == 0 and session.kwh > 0:
        # periods without metered energy: spread the session's kWh over its charging time
        segments = _spread(segments, session.kwh * WH_PER_KWH)
    if session.kwh < 0 or total_wh < 0:
        raise ImpossibleSession("negative_energy", f"kwh={session.kwh}")
    return SessionInput(
        start=session.start_date_time, end=end, time_zone=time_zone, segments=tuple(segments),
        reservation=reservation,
    )


def _spread(segments: list[Segment], energy_wh: Decimal) -> list[Segment]:
    charging = [s for s in segments if s.state is SegmentState.CHARGING]
    total_s = sum(((s.end - s.start).total_seconds() for s in charging), 0.0)
    if not charging or total_s <= 0:
        raise ImpossibleSession("energy_without_charging_time", f"{energy_wh} Wh")
    out = []
    for s in segments:
        if s.state is SegmentState.CHARGING:
            share = energy_wh * dec((s.end - s.start).total_seconds()) / dec(total_s)
            s = Segment(s.start, s.end, s.state, share, s.max_power_kw, s.min_power_kw,
                        s.max_current_a, s.min_current_a)
        out.append(s)
    return out
