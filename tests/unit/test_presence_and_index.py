"""Pure logic of the presence view and catalog index (no broker)."""

from __future__ import annotations

from datetime import timedelta

from libs.catalog.index import CatalogIndex, short_alias
from libs.catalog.presence import PresenceView
from libs.events import reference, station
from tests.factories import T0, TOKEN, sample_event


def test_station_online_only_while_its_gateway_lease_lives():
    now = [T0]
    view = PresenceView(clock=lambda: now[0])
    view.apply("gateway-instances", "gw-1", sample_event(station.GatewayLease))  # expires T0+15s
    view.apply("station-presence", "CS1", sample_event(station.StationPresence))
    assert view.is_online("CS1") and view.gateway_of("CS1") == "gw-1"
    now[0] = T0 + timedelta(seconds=16)  # killed gateway: the lease lapses, no goodbye needed
    assert not view.is_online("CS1") and view.gateway_of("CS1") is None
    view.apply("station-presence", "CS1", sample_event(station.StationPresence, online=False, connection_id="c2"))
    now[0] = T0
    assert not view.is_online("CS1")
    view.apply("gateway-instances", "gw-1", None)  # clean shutdown tombstones the lease
    assert not view.instance_alive("gw-1")


def test_token_conflict_operator_first_then_most_recent():
    index = CatalogIndex()
    partner_new = sample_event(reference.TokenPublished, record_key="NL/EMS/U1/RFID", owner="partner:NL",
                               token={**TOKEN, "uid": "U1", "country_code": "NL", "party_id": "EMS",
                                      "last_updated": T0 + timedelta(days=2)})
    partner_old = sample_event(reference.TokenPublished, record_key="BE/EMS/U1/RFID", owner="partner:BE",
                               token={**TOKEN, "uid": "U1", "country_code": "BE", "party_id": "EMS"})
    index.apply("tokens", "NL/EMS/U1/RFID", partner_new)
    index.apply("tokens", "BE/EMS/U1/RFID", partner_old)
    assert index.token("U1").country_code == "NL"
    own = sample_event(reference.TokenPublished, record_key="DE/VST/U1/RFID", owner="catalog",
                       token={**TOKEN, "uid": "U1"})
    index.apply("tokens", "DE/VST/U1/RFID", own)
    assert index.token("U1").country_code == "DE"
    assert index.token("U1", "APP_USER") is None
    index.apply("tokens", "DE/VST/U1/RFID", None)
    assert index.token("U1").country_code == "NL"


def test_short_alias_is_stable_and_fits_idtag():
    uid = "x" * 36
    assert short_alias(uid) == short_alias(uid) and len(short_alias(uid)) == 20
    assert short_alias("SHORTUID") == "SHORTUID"
    assert short_alias("y" * 36) != short_alias(uid)
