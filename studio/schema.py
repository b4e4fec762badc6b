"""The domain's JSON Schema: loaded and checked once, compiled once, used by every stage that validates.

A domain schema may list its kinds of item as `oneOf` branches told apart by a `const` (e.g. `kind`);
`narrow` picks the branch that fits a planned item's axis values, which is what the generator asks for.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from studio.errors import StudioError
from studio.records import canonical_json


def json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def error_text(error: jsonschema.ValidationError) -> str:
    """`$.properties.density_kg_m3: 12000 is greater than the maximum of 1400`, shortened for long values."""
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return f"{json_path(error.absolute_path)}: {message}"


class DomainSchema:
    def __init__(self, schema: dict[str, Any], source: str = "<schema>"):
        self.schema, self.source = schema, source
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise StudioError(f"not a valid JSON Schema: {e.message}", source, json_path(e.absolute_path)) from None
        self.validator = _compiled(canonical_json(schema))

    @classmethod
    def load(cls, path: Path | str) -> DomainSchema:
        path = Path(path)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudioError("schema file not found", path) from None
        except json.JSONDecodeError as e:
            raise StudioError(f"schema is not valid JSON ({e.msg})", path, e.lineno) from None
        if not isinstance(schema, dict):
            raise StudioError("a JSON Schema must be an object", path)
        return cls(schema, str(path))

    def first_error(self, data: Any) -> str | None:
        """None when valid (the fast path); else the most relevant error as one line."""
        if self.validator.is_valid(data):
            return None
        return error_text(jsonschema.exceptions.best_match(self.validator.iter_errors(data)))

    def errors(self, data: Any) -> list[str]:
        return [error_text(e) for e in sorted(self.validator.iter_errors(data), key=lambda e: e.path)]

    def narrow(self, values: dict[str, str]) -> dict[str, Any]:
        return narrow(self.schema, values)


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


def narrow(schema: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The one `oneOf`/`anyOf` branch that fits `values`, merged into the root; else the schema itself."""
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if not isinstance(branches, list):
            continue
        fitting = [b for b in branches if isinstance(b, dict) and _fits(b, values)]
        if len(fitting) == 1:
            return _merge({k: v for k, v in schema.items() if k != key}, fitting[0])
    return schema


def _fits(branch: dict[str, Any], values: dict[str, str]) -> bool:
    for prop, sub in branch.get("properties", {}).items():
        if prop in values and isinstance(sub, dict):
            if "const" in sub and sub["const"] != values[prop]:
                return False
            if "enum" in sub and values[prop] not in sub["enum"]:
                return False
    return True


def _merge(base: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **{k: v for k, v in branch.items() if k not in ("properties", "required")}}
    out["properties"] = {**base.get("properties", {}), **branch.get("properties", {})}
    out["required"] = list(dict.fromkeys(base.get("required", []) + branch.get("required", [])))
    # Once merged, no keyword sits between the root and the properties: closing the object is plain.
    if out.pop("unevaluatedProperties", True) is False:
        out["additionalProperties"] = False
    return out
