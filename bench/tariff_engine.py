"""Sessions priced per second by the tariff engine (libs/tariffs), on one core.

Usage: python bench/tariff_engine.py [--sessions N] [--seconds S]
Prices realistic sessions (charging, sometimes a suspension, often parking; 1-4 periods) against
the catalog's two tariffs (energy + parking; day/night across midnight + start fee) and the spec's
complex tariff (current, day-of-week and time-of-day restrictions). Tariffs are compiled once,
as the billing service does per tariff version.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from libs.catalog.loader import load_catalog  # noqa: E402
from libs.ocpi.models import Tariff  # noqa: E402
from libs.tariffs import Segment, SegmentState, SessionInput, compile_tariff, price_session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMPLEX = {
    "country_code": "DE", "party_id": "ALL", "id": "14", "currency": "EUR", "last_updated": "2015-06-29T20:39:09Z",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.5, "vat": 15.0, "step_size": 1}]},
        {"price_components": [{"type": "TIME", "price": 1.0, "vat": 20.0, "step_size": 900}],
         "restrictions": {"max_current": 32.0}},
        {"price_components": [{"type": "TIME", "price": 2.0, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.0, "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}],
         "restrictions": {"min_current": 32.0, "day_of_week": ["SATURDAY", "SUNDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 5.0, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "09:00", "end_time": "18:00",
                          "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.0, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}},
    ],
}


def make_sessions(n: int, seed: int = 7) -> list[SessionInput]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        segs, t = [], start
        for state in [SegmentState.CHARGING] + ([SegmentState.SUSPENDED, SegmentState.CHARGING]
                                                if rng.random() < 0.2 else []):
            dur = timedelta(seconds=rng.randrange(300, 3 * 3600))
            wh = Decimal(rng.randrange(1000, 60000)) if state is SegmentState.CHARGING else Decimal(0)
            amps = Decimal(rng.choice([16, 32, 48]))
            segs.append(Segment(t, t + dur, state, wh, max_current_a=amps, min_current_a=amps))
            t += dur
        if rng.random() < 0.6:
            dur = timedelta(seconds=rng.randrange(60, 2 * 3600))
            segs.append(Segment(t, t + dur, SegmentState.IDLE))
            t += dur
        out.append(SessionInput(start=start, end=t, time_zone="Europe/Berlin", segments=tuple(segs)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    tariffs = [compile_tariff(t) for t in load_catalog(ROOT / "examples" / "catalog.yaml").tariffs]
    tariffs.append(compile_tariff(Tariff.model_validate(COMPLEX)))
    sessions = make_sessions(args.sessions)
    for t in tariffs:
        for s in sessions[:50]:  # warm up (zone cache, code paths)
            price_session(t, s)
        priced, began = 0, time.perf_counter()
        while time.perf_counter() - began < args.seconds:
            for s in sessions:
                price_session(t, s)
            priced += len(sessions)
        rate = priced / (time.perf_counter() - began)
        print(f"{t.id:16} {rate:10,.0f} sessions/s (one core)")


if __name__ == "__main__":
    main()
