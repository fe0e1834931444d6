"""Partner tokens (mod_tokens.asciidoc, Receiver interface): the eMSP's tokens as records on the
compacted `tokens` topic, keyed (country_code, party_id, uid, type), owned `partner:<id>`.

The gateway's catalog index reads the same topic, so a pushed token authorises at the chargers.
Reads come from this service's own catalog index; a write is applied to it as soon as Kafka has
acknowledged it (read-your-writes for the eMSP's GET right after its PUT).
"""

from __future__ import annotations

from datetime import UTC

from libs.catalog.index import CatalogIndex
from libs.catalog.models import TokenRecord, token_key
from libs.events.envelope import Source
from libs.events.producer import EventProducer
from libs.events.reference import TokenPublished
from libs.ocpi.models import Token

PARTNER_OWNER_PREFIX = "partner:"


def partner_owner(partner_id: int) -> str:
    return f"{PARTNER_OWNER_PREFIX}{partner_id}"


def owner_partner_id(owner: str) -> int | None:
    """The partner id behind a record owner `partner:<id>`; None for the catalog's own tokens."""
    if not owner.startswith(PARTNER_OWNER_PREFIX):
        return None
    try:
        return int(owner[len(PARTNER_OWNER_PREFIX):])
    except ValueError:
        return None


def record_key(country_code: str, party_id: str, uid: str, token_type: str) -> str:
    # country_code / party_id are CiStrings: normalised so NL/TNM and nl/tnm are one token
    return token_key(country_code.upper(), party_id.upper(), uid, token_type)


class PartnerTokens:
    def __init__(self, index: CatalogIndex):
        self.index = index
        self.producer: EventProducer | None = None  # set when the service starts

    def get(self, country_code: str, party_id: str, uid: str, token_type: str) -> TokenRecord | None:
        return self.index.records["tokens"].get(record_key(country_code, party_id, uid, token_type))

    async def publish(self, token: Token, partner_id: int) -> TokenRecord:
        """Write the token to `tokens` (acks=all) and apply it to our index at once."""
        assert self.producer is not None, "service not started"
        key = record_key(token.country_code, token.party_id, token.uid, str(token.type))
        token = token.model_copy(update={"country_code": token.country_code.upper(),
                                         "party_id": token.party_id.upper()})
        record = TokenRecord(record_key=key, owner=partner_owner(partner_id),
                             last_updated=token.last_updated.astimezone(UTC), token=token)
        event = TokenPublished.create(payload=record, source=Source.OCPI, occurred_at=record.last_updated)
        await self.producer.send(event)
        self.index.apply("tokens", key, event)
        return record
