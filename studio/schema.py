"""The domain's JSON Schema: loaded and checked once, compiled once, used by every stage that validates.

A domain schema may list its kinds of item as `oneOf` branches told apart by a `const` (e.g. `kind`);
`narrow` picks the branch that fits a planned item's axis values, which is what the generator asks for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from studio.errors import StudioError
from studio.records import canonical_json

Check = Callable[[Any], bool]


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
    def __init__(self, schema: dict[str, Any], source: str = "<schema>", check: bool = True):
        self.schema, self.source = schema, source
        if check:  # checking against the metaschema costs milliseconds: once per schema, not per branch
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                raise StudioError(f"not a valid JSON Schema: {e.message}", source, json_path(e.absolute_path)) from None
        self.validator = _compiled(canonical_json(schema))
        self._narrowed: dict[str, DomainSchema] = {}
        self._discriminators = discriminators(schema)
        self._branches: dict[tuple[Any, ...], tuple[Draft202012Validator, Check | None]] = {}
        self._whole = (self.validator, compile_check(schema))

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
        """None when valid; else the most relevant error as one line. The errors come from the branch the
        item's own `kind` picks, so they say what is wrong inside it, not merely that no branch matched."""
        errors = self.check(data)
        return error_text(jsonschema.exceptions.best_match(errors)) if errors else None

    def errors(self, data: Any) -> list[str]:
        return [error_text(e) for e in self.check(data)]

    def narrow(self, values: dict[str, str]) -> dict[str, Any]:
        return narrow(self.schema, values)

    def branch(self, values: dict[str, str]) -> DomainSchema:
        """The narrowed schema, compiled, one instance per distinct branch."""
        narrowed = narrow(self.schema, values)
        if narrowed is self.schema:
            return self
        key = canonical_json(narrowed)
        if key not in self._narrowed:
            self._narrowed[key] = DomainSchema(narrowed, self.source, check=False)
        return self._narrowed[key]

    # The fast path for many items. A `oneOf` of kinds told apart by a `const` costs a check of every branch;
    # an item that names its kind needs only its branch, compiled once (5-6x faster). And a plain Python check
    # of the common keywords says "surely valid" 10-20x faster than jsonschema; anything else goes to jsonschema.
    def validator_for(self, data: Any) -> tuple[Draft202012Validator, Check | None]:
        """The compiled validator for `data` (the branch its discriminator picks, else the whole schema) and
        its quick check, if the branch has one. Either validator gives the same verdict."""
        if not self._discriminators or not isinstance(data, dict):
            return self._whole
        values = {p: data.get(p) for p in self._discriminators}
        key = tuple((type(v), v) for v in values.values())  # the type, as JSON Schema tells true from 1
        try:
            return self._branches[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list, an object) picks no branch
            return self._whole
        branch = exact_branch(self.schema, values)
        if branch is None:
            self._branches[key] = self._whole
        else:
            self._branches[key] = (_compiled(canonical_json(branch)), compile_check(branch))
        return self._branches[key]

    def check(self, data: Any) -> list[jsonschema.ValidationError]:
        """Every error of `data` (none when valid), through the fast path."""
        validator, quick = self.validator_for(data)
        if quick is not None:
            if quick(data):
                return []
        elif validator.is_valid(data):
            return []
        return sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


# Keywords whose values are subschemas: a map of names to schemas, a list of schemas, or one schema.
_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_ONES = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
)


def map_subschemas(schema: Any, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """`fn` applied to every subschema, innermost first. Property names are never taken for keywords
    (a property may well be called `properties` or `description`)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: map_subschemas(sub, fn) for name, sub in out[key].items()}
    for key in _LISTS:
        if isinstance(out.get(key), list):
            out[key] = [map_subschemas(sub, fn) for sub in out[key]]
    for key in _ONES:
        if isinstance(out.get(key), dict):
            out[key] = map_subschemas(out[key], fn)
    return fn(out)


def narrow(schema: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The one `oneOf`/`anyOf` branch that fits `values`, merged into the root; else the schema itself."""
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if not isinstance(branches, list):
            continue
        fitting = [b for b in branches if isinstance(b, dict) and _fits(b, values)]
        if len(fitting) == 1:
            return _merge_branch({k: v for k, v in schema.items() if k != key}, fitting[0])
    return schema


def _fits(branch: dict[str, Any], values: dict[str, str]) -> bool:
    for prop, sub in branch.get("properties", {}).items():
        if prop in values and isinstance(sub, dict):
            if "const" in sub and sub["const"] != values[prop]:
                return False
            if "enum" in sub and values[prop] not in sub["enum"]:
                return False
    return True


def _merge_branch(base: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **{k: v for k, v in branch.items() if k not in ("properties", "required")}}
    out["properties"] = {**base.get("properties", {}), **branch.get("properties", {})}
    out["required"] = list(dict.fromkeys(base.get("required", []) + branch.get("required", [])))
    # Once merged, no keyword sits between the root and the properties: closing the object is plain.
    if out.pop("unevaluatedProperties", True) is False:
        out["additionalProperties"] = False
    return out


def discriminators(schema: dict[str, Any]) -> tuple[str, ...]:
    """The properties every `oneOf` branch pins with a `const` (e.g. `kind`): they tell the branches apart."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list) or not branches or not all(isinstance(b, dict) for b in branches):
        return ()
    pinned = [
        {p for p, sub in b.get("properties", {}).items() if isinstance(sub, dict) and "const" in sub} for b in branches
    ]
    return tuple(sorted(set.intersection(*pinned)))


# Root keywords the merge below understands; anything else keeps the exact but slower single-branch form.
_MERGEABLE_ROOT = {"$schema", "$id", "$defs", "title", "description", "type", "required", "properties", "oneOf"}
_MERGEABLE_BRANCH = {"title", "description", "properties", "required"}


def exact_branch(schema: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
    """A schema equivalent to `schema` for every item with these discriminator values, without the `oneOf`;
    None when no single branch is left. Unlike `narrow` (which shapes prompts), nothing is loosened."""
    branches = schema["oneOf"]
    kept = [b for b in branches if all(_same(b["properties"][p]["const"], v) for p, v in values.items())]
    if len(kept) != 1:
        return None  # every branch (or several) fails on its const: the whole schema gives the right errors
    (branch,) = kept
    closed = schema.get("unevaluatedProperties", True)
    if (
        set(schema) - {"unevaluatedProperties"} > _MERGEABLE_ROOT
        or set(branch) > _MERGEABLE_BRANCH
        or closed
        not in (
            True,
            False,
        )
    ):
        return {**schema, "oneOf": [branch]}
    root = {k: v for k, v in schema.items() if k not in ("oneOf", "unevaluatedProperties")}
    properties = dict(root.get("properties", {}))
    for name, sub in branch.get("properties", {}).items():
        properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
    merged = {**root, "properties": properties}
    merged["required"] = list(dict.fromkeys(root.get("required", []) + branch.get("required", [])))
    if closed is False:  # only `properties` evaluate here, so unevaluated = additional
        merged["additionalProperties"] = False
    return merged


def _same(const: Any, value: Any) -> bool:
    # JSON Schema tells true from 1, Python does not.
    return const == value and isinstance(const, bool) == isinstance(value, bool)


# A quick check compiled from the common keywords into Python closures. It answers True only when the
# instance is surely valid; False means "ask jsonschema" (which also gives the messages). A schema with any
# keyword it does not know (format, $ref, oneOf, unevaluated*, ...) gets no quick check at all.
ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}


def compile_check(schema: Any) -> Check | None:
    if schema is True:
        return lambda x: True
    if not isinstance(schema, dict):
        return None
    checks = []
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        make = _KEYWORDS.get(key)
        check = make(value, schema) if make else None
        if check is None:
            return None
        checks.append(check)
    if len(checks) == 1:
        return checks[0]

    def every(x: Any) -> bool:
        for c in checks:  # noqa: SIM110 (a plain loop: no generator per item on the hot path)
            if not c(x):
                return False
        return True

    return every


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": lambda x: _is_number(x) and (isinstance(x, int) or x.is_integer()),
}


def _type(value: Any, _: dict[str, Any]) -> Check | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(n in _TYPES for n in names):
        return None
    tests = [_TYPES[n] for n in names]
    return tests[0] if len(tests) == 1 else lambda x: any(t(x) for t in tests)


def _strings(value: Any) -> frozenset[str] | None:
    return frozenset(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _enum(value: Any, _: dict[str, Any]) -> Check | None:
    allowed = _strings(value)  # other values (numbers, true vs 1, objects) are left to jsonschema
    return None if allowed is None else lambda x: isinstance(x, str) and x in allowed


def _const(value: Any, _: dict[str, Any]) -> Check | None:
    return (lambda x: isinstance(x, str) and x == value) if isinstance(value, str) else None


def _required(value: Any, _: dict[str, Any]) -> Check | None:
    return lambda x: not isinstance(x, dict) or all(k in x for k in value)


def _properties(value: Any, _: dict[str, Any]) -> Check | None:
    subs = {name: compile_check(sub) for name, sub in value.items()}
    if any(c is None for c in subs.values()):
        return None
    pairs = list(subs.items())

    def each(x: Any) -> bool:
        if isinstance(x, dict):
            for k, c in pairs:
                if k in x and not c(x[k]):  # type: ignore[misc]
                    return False
        return True

    return each


def _additional(value: Any, schema: dict[str, Any]) -> Check | None:
    if "patternProperties" in schema:
        return None
    known = frozenset(schema.get("properties", {}))
    if value is False:
        return lambda x: not isinstance(x, dict) or x.keys() <= known
    sub = compile_check(value)
    if sub is None:
        return None
    return lambda x: not isinstance(x, dict) or all(sub(v) for k, v in x.items() if k not in known)


def _items(value: Any, schema: dict[str, Any]) -> Check | None:
    sub = compile_check(value) if "prefixItems" not in schema else None
    return None if sub is None else lambda x: not isinstance(x, list) or all(sub(i) for i in x)


def _unique(value: Any, _: dict[str, Any]) -> Check | None:
    if value is not True:
        return lambda x: True
    # Strings only: other values (true vs 1, 1 vs 1.0, objects) are left to jsonschema.
    return lambda x: not isinstance(x, list) or (all(isinstance(i, str) for i in x) and len(set(x)) == len(x))


def _all_of(value: Any, _: dict[str, Any]) -> Check | None:
    subs = [compile_check(sub) for sub in value]
    return None if any(c is None for c in subs) else lambda x: all(c(x) for c in subs)  # type: ignore[misc]


def _pattern(value: Any, _: dict[str, Any]) -> Check | None:
    found = re.compile(value).search  # what jsonschema does
    return lambda x: not isinstance(x, str) or found(x) is not None


def _bound(test: Callable[[Any, Any], bool], applies: Check) -> Callable[[Any, dict[str, Any]], Check | None]:
    def make(value: Any, _: dict[str, Any]) -> Check | None:
        if not _is_number(value):
            return None
        return lambda x: not applies(x) or test(x, value)

    return make


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], Check | None]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "uniqueItems": _unique,
    "allOf": _all_of,
    "pattern": _pattern,
    "minimum": _bound(lambda x, v: x >= v, _is_number),
    "maximum": _bound(lambda x, v: x <= v, _is_number),
    "exclusiveMinimum": _bound(lambda x, v: x > v, _is_number),
    "exclusiveMaximum": _bound(lambda x, v: x < v, _is_number),
    "minLength": _bound(lambda x, v: len(x) >= v, lambda x: isinstance(x, str)),
    "maxLength": _bound(lambda x, v: len(x) <= v, lambda x: isinstance(x, str)),
    "minItems": _bound(lambda x, v: len(x) >= v, lambda x: isinstance(x, list)),
    "maxItems": _bound(lambda x, v: len(x) <= v, lambda x: isinstance(x, list)),
    "minProperties": _bound(lambda x, v: len(x) >= v, lambda x: isinstance(x, dict)),
    "maxProperties": _bound(lambda x, v: len(x) <= v, lambda x: isinstance(x, dict)),
}
