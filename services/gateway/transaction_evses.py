"""Which EVSE (and, for 1.6, which session) each transaction is on, known to every replica.

Later messages of a transaction may not name its EVSE: a 2.0.1 station names it in the first
TransactionEvent after the EV is connected and may leave it out afterwards, and a 1.6
StopTransaction names neither connector nor start time (which the session id needs). After a
failover mid-transaction those messages reach a replica that never saw the start, so the mapping
cannot live in one replica's memory. The gateway keeps it in the compacted topic
`transaction-evses`, which every replica follows from the beginning (like the catalog index):

- key `{station_id}/{transaction_ref}`; value: the transaction fact that first named the EVSE (a
  `transaction.started`, or the 2.0.1 `transaction.updated` that did), sent through the durable
  sink together with that fact, so it is in Kafka (or the spool) before the charger is answered;
- when a transaction takes an EVSE, the records of that EVSE's earlier transactions are
  tombstoned (an EVSE holds one transaction at a time), so there is about one record per EVSE.
  A record is not removed when its transaction ends: an Ended re-sent after a failover (its answer
  lost with the connection) must still name the EVSE, so that it gives the same event ids.

A replica that picks a station up within the follower's lag (well under a second) of the start
may not have the record yet; the fact then goes out without the EVSE, as before this view.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.events.bus import KafkaSettings
from libs.events.envelope import Event
from libs.events.follower import TopicFollower
from libs.events.transactions import TransactionFact, TransactionStarted
from services.gateway.spool import KeyedRecord

TOPIC = "transaction-evses"


@dataclass(frozen=True)
class TransactionPlace:
    evse_id: int
    connector_id: int | None
    session_id: str | None


def record_key(station_id: str, transaction_ref: str) -> str:
    return f"{station_id}/{transaction_ref}"  # station ids never contain "/" (server.py refuses them)


class TransactionEvses:
    def __init__(self, kafka: KafkaSettings | None = None):
        self._by_station: dict[str, dict[str, TransactionPlace]] = {}
        self._follower = TopicFollower(kafka, [TOPIC], self.apply) if kafka is not None else None

    # --- the handlers' side --------------------------------------------------------------
    def recall(self, station_id: str, transaction_ref: str) -> TransactionPlace | None:
        return self._by_station.get(station_id, {}).get(transaction_ref)

    def remember(self, fact: Event) -> list[KeyedRecord]:
        """`fact` (a transaction event naming its EVSE) -> the records that make it known on every
        replica: none when already known, except for a start, which is always written (a re-sent
        start after a spool-full refusal must still reach the topic)."""
        p: TransactionFact = fact.payload
        station = fact.station_id
        place = TransactionPlace(p.evse_id, p.connector_id, p.session_id)
        if self.recall(station, p.transaction_ref) == place and not isinstance(fact, TransactionStarted):
            return []
        earlier = [ref for ref, other in self._by_station.get(station, {}).items()
                   if other.evse_id == place.evse_id and ref != p.transaction_ref]
        for ref in earlier:
            self._forget(station, ref)
        self._by_station.setdefault(station, {})[p.transaction_ref] = place
        return [*(KeyedRecord(TOPIC, record_key(station, ref), None) for ref in earlier),
                KeyedRecord(TOPIC, record_key(station, p.transaction_ref), fact)]

    def _forget(self, station_id: str, transaction_ref: str) -> None:
        places = self._by_station.get(station_id)
        if places is not None:
            places.pop(transaction_ref, None)
            if not places:
                del self._by_station[station_id]

    # --- the topic's side ----------------------------------------------------------------
    def apply(self, _topic: str, key: str, event: Event | None) -> None:
        station, _, ref = key.partition("/")
        if event is None:
            self._forget(station, ref)
            return
        p = event.payload
        if isinstance(p, TransactionFact) and p.evse_id is not None:
            self._by_station.setdefault(station, {})[ref] = TransactionPlace(p.evse_id, p.connector_id, p.session_id)

    async def start(self) -> None:
        if self._follower is not None:
            await self._follower.start()

    async def wait_caught_up(self, timeout: float | None = None) -> None:
        if self._follower is not None:
            await self._follower.wait_caught_up(timeout)

    @property
    def caught_up(self) -> bool:
        return self._follower is None or self._follower.caught_up.is_set()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()

    def __len__(self) -> int:
        return sum(len(places) for places in self._by_station.values())
