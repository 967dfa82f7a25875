"""JSON Schemas of the canonical entities, for other languages and for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssgateway.model import ENTITIES, SCHEMA_VERSION

__all__ = ["SCHEMA_ID_BASE", "entity_schema", "export_schemas"]

SCHEMA_ID_BASE = "https://ssgateway.invalid/schema/v" + SCHEMA_VERSION
"""Base of the ``$id`` of every exported schema (a name, not a place to fetch from)."""


def entity_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one entity as it appears in canonical JSON documents (computed fields included)."""
    schema = ENTITIES[name].model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_ID_BASE}/{name}.json",
        "x-ssgateway-model-version": SCHEMA_VERSION,
        **schema,
    }


def export_schemas(directory: str | Path) -> list[Path]:
    """Write ``<Entity>.json`` for every entity and an ``index.json`` listing them; return the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index: dict[str, Any] = {"model_version": SCHEMA_VERSION, "entities": {}}
    for name in sorted(ENTITIES):
        path = out / f"{name}.json"
        path.write_text(
            json.dumps(entity_schema(name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        index["entities"][name] = {"file": path.name, "description": (ENTITIES[name].__doc__ or "").strip()}
        written.append(path)
    index_path = out / "index.json"
    index_path.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(index_path)
    return written
