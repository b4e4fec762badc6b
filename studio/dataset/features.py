"""The dataset's column types, from the domain's JSON Schema: `datasets.Features` with nested structs, lists,
integers, floats and booleans, so that Parquet, the `datasets` folder and the Hub give a user the objects and
numbers the schema promised, not JSON text. The label of a classification domain becomes a `ClassLabel`.

What JSON Schema says and Arrow cannot hold in one type (a value of several types, an object with no fixed
properties) is a string column of JSON text, and `cast` writes it so."""

from __future__ import annotations

import json
from functools import reduce
from typing import Any

from datasets import ClassLabel, List, Value

_SCALARS = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool"}
TEXT = Value("string")
_BRANCHES = ("oneOf", "anyOf", "allOf")


def item_features(schema: dict[str, Any], label: str | None = None) -> dict[str, Any]:
    """The feature of each property an item may have, over all of the schema's branches (an item of one kind
    leaves the other kinds' properties empty); `label`, a property with an enum, becomes a ClassLabel."""
    features = feature(schema)
    if not isinstance(features, dict):
        return {}
    if label in features and (names := enum_values(schema, label)):
        features[label] = ClassLabel(names=names)
    return features


def feature(schema: Any) -> Any:
    """The `datasets` feature of a value valid against `schema`."""
    if not isinstance(schema, dict):
        return TEXT
    if "const" in schema:
        return _of_values([schema["const"]])
    if "enum" in schema:
        return _of_values(schema["enum"])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        kinds = [k for k in kinds if k != "null"]
        if len(kinds) != 1:
            return TEXT
        kinds = kinds[0]
    if kinds in _SCALARS:
        return Value(_SCALARS[kinds])
    if kinds == "array":
        return List(feature(schema.get("items", {})))
    parts = [feature(b) for key in _BRANCHES for b in schema.get(key, [])]
    if kinds == "object" or "properties" in schema:
        own = {name: feature(sub) for name, sub in (schema.get("properties") or {}).items()}
        # A branch that only says what is required adds no property.
        merged = reduce(_merge, [p for p in parts if isinstance(p, dict)], own)
        return merged or TEXT
    return reduce(_merge, parts) if parts else TEXT


def enum_values(schema: dict[str, Any], name: str) -> list[Any]:
    """Every value the property `name` may take, in the schema's order (its enum, or its branches' consts)."""
    values: list[Any] = []
    for part in [schema, *(b for key in _BRANCHES for b in schema.get(key, []) if isinstance(b, dict))]:
        sub = (part.get("properties") or {}).get(name) or {}
        values += sub.get("enum", []) + ([sub["const"]] if "const" in sub else [])
    return list(dict.fromkeys(values))


def _of_values(values: list[Any]) -> Any:
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return TEXT
    if kinds == {bool}:
        return Value("bool")
    if kinds <= {int}:
        return Value("int64")
    if kinds <= {int, float}:
        return Value("float64")
    return TEXT


def _merge(a: Any, b: Any) -> Any:
    """One feature for a property two branches type: the same, a struct of both structs' fields, or text."""
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    numbers = (Value("int64"), Value("float64"))
    if a in numbers and b in numbers:
        return Value("float64")
    return TEXT


def cast(value: Any, feature: Any) -> Any:
    """`value` as the column `feature` holds it: a struct with every field, lists cast item by item, and
    anything but a string in a string column as JSON text."""
    if value is None:
        return None
    if isinstance(feature, dict):
        return {k: cast(value.get(k), f) for k, f in feature.items()} if isinstance(value, dict) else None
    if isinstance(feature, List):
        return [cast(v, feature.feature) for v in value] if isinstance(value, list) else None
    if feature == TEXT and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
