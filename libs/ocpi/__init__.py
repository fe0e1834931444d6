"""OCPI 2.2.1 object definitions (specification: repository ocpi/ocpi, tag 2.2.1).

- :mod:`libs.ocpi.types`: CiString/String, DateTime, number, DisplayText, Price, GeoLocation, enums.
- :mod:`libs.ocpi.models`: Location, Tariff, Token, CDR, Session, commands, credentials, versions.
- :mod:`libs.ocpi.status`: OCPI status codes.

Send an object with ``obj.model_dump(mode="json", exclude_none=True)`` (``obj.to_ocpi()``).
"""

from libs.ocpi.status import OcpiStatus
from libs.ocpi.types import OcpiModel

__all__ = ["OcpiModel", "OcpiStatus"]
