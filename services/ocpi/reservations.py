"""Reservations made by partners (RESERVE_NOW), so CANCEL_RESERVATION — which names only the
reservation_id — reaches the right charger.

mod_commands.asciidoc: "The reservation_id sent by the Sender (eMSP) to the Receiver (CPO) SHALL
NOT be sent directly to a Charge Point. The CPO SHALL make sure the Reservation ID sent to the
Charge Point is unique and is not used by another Sender (eMSP)." The OCPP reservation id is a
positive 31-bit hash of (the eMSP's country_code/party_id, its reservation_id): stable, so a
RESERVE_NOW with the same id replaces the reservation at the charger, and distinct per sender.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.ocpi.db import now_naive


class _Base(DeclarativeBase):
    pass


class ReservationRow(_Base):
    __tablename__ = "ocpi_reservations"
    party: Mapped[str] = mapped_column(String(6), primary_key=True)  # the eMSP: CC/PID
    reservation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(48))
    ocpp_reservation_id: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[str] = mapped_column(String(36))
    evse_uid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now_naive)


def party_key(country_code: str, party_id: str) -> str:
    return f"{country_code.upper()}/{party_id.upper()}"


def ocpp_reservation_id(party: str, reservation_id: str) -> int:
    digest = hashlib.sha256(f"{party}/{reservation_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
