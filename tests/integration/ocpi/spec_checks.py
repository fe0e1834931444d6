"""Field-by-field checks of served objects against the OCPI 2.2.1 definitions (libs.ocpi models:
types, required fields, CiString/string lengths, enums), plus "nothing beyond the spec": a
round trip through the model must give back exactly the served JSON."""

from __future__ import annotations

import re

from libs.ocpi.models import CDR, EVSE, Connector, Credentials, Location, Session, Tariff, VersionDetails

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
MODELS = {"locations": Location, "sessions": Session, "cdrs": CDR, "tariffs": Tariff, "evse": EVSE,
          "connector": Connector, "credentials": Credentials, "details": VersionDetails}


def _datetimes(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("last_updated", "start_date_time", "end_date_time", "timestamp", "period_begin") and isinstance(v, str) and "T" in v:
                assert DATETIME.match(v), f"{path}.{k}={v!r} is not an OCPI DateTime"
            _datetimes(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _datetimes(v, f"{path}[{i}]")


def check_object(kind: str, doc: dict):
    model = MODELS[kind]
    obj = model.model_validate(doc)  # raises on a wrong type, missing field, length or enum
    assert obj.to_ocpi() == doc, f"{kind} has fields or values outside 2.2.1: {doc}"
    _datetimes(doc)
    # no nulls: optional fields are omitted, never null
    assert "null" not in repr(doc).lower().replace("'null'", "")
    return obj


def check_envelope(body: dict, code: int = 1000):
    assert body["status_code"] == code, body
    assert isinstance(body["timestamp"], str) and DATETIME.match(body["timestamp"])
    assert set(body) <= {"data", "status_code", "status_message", "timestamp"}
