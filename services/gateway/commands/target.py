"""What a command builder may know about where the command goes."""

from __future__ import annotations

from dataclasses import dataclass

from libs.catalog.index import CatalogIndex


@dataclass(frozen=True)
class Target:
    station_id: str
    command_id: str
    index: CatalogIndex
