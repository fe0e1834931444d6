"""`voltstream events schema DIR`: one JSON Schema file per event type."""

from __future__ import annotations

from pathlib import Path

import orjson

from libs.events.registry import EVENT_CLASSES


def write_schemas(directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in EVENT_CLASSES:
        schema = cls.model_json_schema()
        schema["$id"] = f"voltstream:{cls.TYPE}:v{cls.SCHEMA_VERSION}"
        schema["x-topic"] = cls.TOPIC
        path = out / f"{cls.TYPE}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written
