"""`studio init --propose`: ask an OpenAI-compatible endpoint for the domain's diversity axes and item schema.

One request through the official `openai` client; the reply is checked strictly, and anything short of a usable
proposal raises NotProposed with the reason, so that the caller writes the plain scaffold instead.

The proposed project gets generic templates (proposed.*.j2) that render any axes, a line per axis, rather than the
scaffold's, which name `kind`, `focus`, `style`, ...: the endpoint is then free to choose the axes that fit the
domain, and the templates render every planned item by design (the only names they use are reserved below).
"""

from __future__ import annotations

import json
import keyword
import os
from dataclasses import dataclass
from typing import Any

import jsonschema
import openai
from jsonschema import Draft202012Validator

from studio.errors import api_error
from studio.generation.client import MALFORMED, extract_json

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TIMEOUT_S = 120.0  # one reply that writes a schema: a large model may take a minute
MAX_AXES, MIN_VALUES, MAX_VALUES, MAX_VALUE_CHARS = 5, 2, 6, 60
# Names a template sees besides the axes (studio.generation.requests): an axis so named would hide them.
# `label` is the classification task's own axis, made from the labels, and the templates' cue for it.
RESERVED = frozenset({"domain", "axes", "axis_values", "sample_index", "schema", "examples", "subtopic", "label"})


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"


@dataclass(frozen=True)
class Proposal:
    axes: dict[str, list[str]]
    schema: dict[str, Any]


class NotProposed(Exception):
    """No usable proposal; the message says why, as the one line the user reads."""


def propose(endpoint: Endpoint, title: str, description: str, task: str, labels: list[str]) -> Proposal:
    """The endpoint's proposal for the domain, checked (raises NotProposed)."""
    text = ask(endpoint, instructions(title, description, task, labels))
    try:
        return check(extract_json(text), task, labels)
    except ValueError as e:
        raise NotProposed(f"the endpoint's proposal was not usable ({e})") from None


def instructions(title: str, description: str, task: str, labels: list[str]) -> list[dict[str, str]]:
    if task == "classification":
        item = (
            'an object with a required "label" property whose "enum" is exactly '
            f'{json.dumps(labels)} and a required string property "text" (the text to classify)'
        )
    else:
        item = 'an object with a required string property "text" (the passage) and, if useful, other typed properties'
    system = (
        "You design synthetic datasets. Reply with one JSON object and nothing else, of the form "
        '{"axes": {...}, "schema": {...}}.\n'
        f'"axes": at most {MAX_AXES} diversity axes the items should vary over, each a lower-case identifier '
        f"(not {', '.join(sorted(RESERVED))}) mapping to a list of {MIN_VALUES} to {MAX_VALUES} short values "
        "(a few words each).\n"
        f'"schema": the JSON Schema (Draft 2020-12) of one item: {item}. Give every property a "type" or an "enum".'
    )
    user = f"The domain: {title}.\nWhat is known: {description}\nThe data will tune a model for this task: {task}."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def ask(endpoint: Endpoint, messages: list[dict[str, str]]) -> str:
    """The reply's text. JSON mode first; an endpoint that refuses it (400, 422) is asked again in plain text,
    from which extract_json takes the object. The key goes to this endpoint only, and into no message."""
    key = os.environ.get(endpoint.api_key_env) or None
    # Local servers need no key, but the client insists on one.
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=key or "no-key", timeout=TIMEOUT_S, max_retries=1)
    try:
        try:
            completion = client.chat.completions.create(
                model=endpoint.model, messages=messages, response_format={"type": "json_object"}
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError):
            completion = client.chat.completions.create(model=endpoint.model, messages=messages)
        text = completion.choices[0].message.content if completion.choices else None
    except openai.APIStatusError as e:
        why = api_error(e)
    except openai.APITimeoutError:
        why = f"no reply in {TIMEOUT_S:g} s"
    except openai.APIConnectionError as e:
        why = f"connection error: {e.__cause__ or e}"
    except MALFORMED as e:  # a body that is no chat completion
        why = f"malformed reply: {e}"
    else:
        if text:
            return text
        why = "the reply has no message content"
    finally:
        client.close()
    if key:  # a server may quote the key it refused
        why = why.replace(key, "***")
    raise NotProposed(f"no proposal from the endpoint ({' '.join(why.split())[:200]})")


def check(proposal: Any, task: str, labels: list[str]) -> Proposal:
    """The proposal, if usable; else ValueError naming the first problem."""
    if not isinstance(proposal, dict) or not {"axes", "schema"} <= set(proposal):
        raise ValueError('expected an object with "axes" and "schema"')
    return Proposal(check_axes(proposal["axes"]), check_schema(proposal["schema"], task, labels))


def check_axes(axes: Any) -> dict[str, list[str]]:
    if not isinstance(axes, dict) or not 1 <= len(axes) <= MAX_AXES:
        raise ValueError(f"axes: expected an object of 1 to {MAX_AXES} axes")
    checked = {}
    for name, values in axes.items():
        if not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED:
            raise ValueError(f"axes: {name!r} is not an allowed axis name")
        if not isinstance(values, list) or not MIN_VALUES <= len(values) <= MAX_VALUES:
            raise ValueError(f"axes.{name}: expected a list of {MIN_VALUES} to {MAX_VALUES} values")
        if not all(isinstance(v, str) and 0 < len(v.strip()) <= MAX_VALUE_CHARS for v in values):
            raise ValueError(f"axes.{name}: every value must be a short string (1 to {MAX_VALUE_CHARS} characters)")
        checked[name] = [v.strip() for v in values]
        if len(set(checked[name])) < len(values):
            raise ValueError(f"axes.{name}: values repeat")
    return checked


def check_schema(schema: Any, task: str, labels: list[str]) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise ValueError("schema: expected a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ValueError(f"schema: not a valid JSON Schema: {e.message}") from None
    if schema.get("$schema", DRAFT) != DRAFT:
        raise ValueError(f"schema: $schema must be {DRAFT}")
    properties, required = schema.get("properties") or {}, schema.get("required") or []
    if schema.get("type") != "object":
        raise ValueError('schema: "type" must be "object"')
    for name, sub in properties.items():
        if not isinstance(sub, dict) or not {"type", "enum", "const"} & set(sub):
            raise ValueError(f"schema: property {name!r} has no type")
    wanted = ["label", "text"] if task == "classification" else ["text"]
    for name in wanted:
        if name not in required:
            raise ValueError(f"schema: {name!r} is not required")
    if properties.get("text", {}).get("type") != "string":
        raise ValueError("schema: 'text' is not a string")
    if task == "classification":
        enum = properties.get("label", {}).get("enum")
        if not isinstance(enum, list) or not all(isinstance(x, str) for x in enum) or sorted(enum) != sorted(labels):
            raise ValueError(f"schema: the label enum {enum} is not the labels {labels}")
        if "oneOf" not in schema:
            # As the scaffold's own labelled schema: a branch per label narrows the schema an item is asked for to
            # its own label, so a small model cannot write another label than the one asked.
            schema = {**schema, "oneOf": [{"properties": {"label": {"const": label}}} for label in labels]}
    return {"$schema": DRAFT, **schema}
