"""Load and validate the operator's catalog file. Invalid → every bad field with its path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from libs.catalog.models import CatalogFile
from libs.ocpi.models import Tariff, Token


class CatalogError(ValueError):
    """The catalog file is invalid; `problems` lists "path: message" for each bad field."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid catalog:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Catalog:
    file: CatalogFile
    tariffs: list[Tariff]
    tokens: list[Token]


# Placeholder for last_updated in the file's view; `catalog apply` stamps the publish time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def load_catalog(path: str | Path) -> Catalog:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise CatalogError([f"(file): not valid YAML: {exc}"]) from exc
    except OSError as exc:
        raise CatalogError([f"(file): {exc}"]) from exc
    return parse_catalog(raw)


def parse_catalog(raw: Any) -> Catalog:
    """Validate everything and report every problem at once, each with its path."""
    if not isinstance(raw, dict):
        raise CatalogError(["(root): the catalog must be a mapping"])
    problems: list[str] = []
    file = _validate(CatalogFile, raw, "", problems)
    op = raw.get("operator") if isinstance(raw.get("operator"), dict) else {}
    defaults = {k: op[k] for k in ("country_code", "party_id", "currency") if k in op}
    tariffs = [
        _validate(Tariff, {**defaults, "last_updated": EPOCH, **t}, f"tariffs[{i}]", problems)
        for i, t in enumerate(_mappings(raw.get("tariffs")))
    ]
    token_defaults = {k: v for k, v in defaults.items() if k != "currency"} | {"issuer": op.get("name")}
    tokens = [
        _validate(Token, {**token_defaults, "last_updated": EPOCH, **t}, f"tokens[{i}]", problems)
        for i, t in enumerate(_mappings(raw.get("tokens")))
    ]
    if not problems:
        problems += _references(file, tariffs)
    if problems:
        raise CatalogError(problems)
    return Catalog(file=file, tariffs=tariffs, tokens=tokens)


def _mappings(items: Any) -> list[dict[str, Any]]:
    """The entries of a list that are mappings (CatalogFile already reports the others)."""
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _validate(model: type[BaseModel], data: dict[str, Any], where: str, problems: list[str]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems += _problems(exc, where)
        return None


def _references(file: CatalogFile, tariffs: list[Tariff]) -> list[str]:
    """Cross-references pydantic cannot see: tariff ids used by connectors must exist."""
    known = {t.id for t in tariffs}
    problems = []
    for li, loc in enumerate(file.locations):
        for ei, evse in enumerate(loc.evses):
            for ci, conn in enumerate(evse.connectors):
                for ti, tid in enumerate(conn.tariff_ids):
                    if tid not in known:
                        problems.append(
                            f"locations[{li}].evses[{ei}].connectors[{ci}].tariff_ids[{ti}]: unknown tariff {tid!r}"
                        )
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(tariffs):
        if (t.party_id, t.id) in seen:
            problems.append(f"tariffs[{i}].id: duplicate tariff {t.id!r}")
        seen.add((t.party_id, t.id))
    return problems


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    out = []
    for err in exc.errors():
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append(f"{path or '(root)'}: {err['msg']}")
    return out
