"""Structured output helpers: OpenAI strict schemas, JSON extraction from free text."""

from __future__ import annotations

import json
import re

import pytest

from studio.generation.client import drop_nulls, extract_json, strict_schema
from studio.generation.requests import prompt_schema
from studio.schema import DomainSchema
from tests.test_schema import PENGUIN, QA


def test_strict_schema_closes_objects_and_makes_optional_fields_nullable() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "object", "properties": {"c": {"type": "integer"}}}},
    }
    strict = strict_schema(schema)
    assert strict["required"] == ["a", "b"] and strict["additionalProperties"] is False
    assert strict["properties"]["b"]["anyOf"][1] == {"type": "null"}
    inner = strict["properties"]["b"]["anyOf"][0]
    assert inner["required"] == ["c"] and inner["properties"]["c"]["anyOf"][1] == {"type": "null"}
    # A strict reply with nulls for the optional fields is valid once the nulls are dropped.
    assert DomainSchema(schema).first_error(drop_nulls({"a": "x", "b": {"c": None}})) is None


def test_the_narrowed_penguin_schema_survives_strict_mode() -> None:
    strict = strict_schema(PENGUIN.narrow({"kind": "qa"}))
    assert set(strict["required"]) == {"kind", "text", "question", "answer"}


@pytest.mark.parametrize("kind", ["description", "properties", "applications", "history", "qa"])
def test_every_kind_goes_to_a_strict_provider_as_the_subset_it_takes(kind: str) -> None:
    from tests.openai_server import OPENAI_STRICT_REFUSES, strict_refusal

    narrowed = PENGUIN.narrow({"kind": kind})
    assert strict_refusal(narrowed, set(OPENAI_STRICT_REFUSES)) is not None  # as written, it is refused
    strict = strict_schema(narrowed)
    assert strict_refusal(strict, set(OPENAI_STRICT_REFUSES)) is None
    # What strict mode dropped is still checked: the whole schema refuses what the subset lets through.
    too_long = {"kind": kind, "text": "x" * 5000}
    assert DomainSchema(narrowed).first_error(too_long) is not None


def test_one_of_goes_as_any_of_and_const_as_a_one_value_enum() -> None:
    strict = strict_schema({"oneOf": [{"type": "object", "properties": {"k": {"const": "a"}}, "required": ["k"]}]})
    assert "oneOf" not in strict and strict["anyOf"][0]["properties"]["k"] == {"enum": ["a"]}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! Here it is:\n```json\n{"a": 1}\n```',
        'The answer is {"a": 1} as requested.',
        '{"a": 1, "b": "two\nlines"}',  # a raw newline in a string, as llama.cpp's grammar allows
    ],
)
def test_extract_json(text: str) -> None:
    assert extract_json(text)["a"] == 1


def test_extract_json_refuses_prose() -> None:
    with pytest.raises(ValueError):
        extract_json("I cannot do that.")


def test_prompt_schema_drops_annotations_but_not_property_names() -> None:
    schema = {"description": "x", "properties": {"description": {"type": "string", "title": "t"}}}
    assert prompt_schema(schema) == {"properties": {"description": {"type": "string"}}}
    # The real schema as a prompt shows it: no annotation left, the same items valid and invalid.
    narrowed = PENGUIN.narrow({"kind": "qa"})
    shown = prompt_schema(narrowed)
    assert not {"$schema", "$id", "title", "description"} & set(shown)
    assert "The passage itself" in json.dumps(narrowed) and "The passage itself" not in json.dumps(shown)
    assert DomainSchema(shown).first_error(QA) is None
    too_short = {**QA, "text": "Short."}
    assert DomainSchema(shown).first_error(too_short) == DomainSchema(narrowed).first_error(too_short) is not None


def test_the_text_pattern_is_decoded_to_and_neither_shown_nor_validated(tmp_path) -> None:
    from studio import pipeline
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.target import Target
    from tests.conftest import copy_project

    pattern = '^[A-Z][^{}\\"]{38,498}[.]$'
    project = pipeline.open_project(copy_project(tmp_path, {"sampling.text_pattern": pattern}))
    requests = Requests(project, Target("http://127.0.0.1:9/v1", "m"), "json_object")
    item = plan(project, 1, None)[0]
    schema, messages, params = requests.request(item)
    assert params["response_format"]["schema"]["properties"]["text"]["pattern"] == pattern
    assert pattern not in messages[0]["content"] and '"pattern"' not in messages[0]["content"]
    assert "pattern" not in json.dumps(schema.schema)  # validation keeps the domain schema
    # An item the pattern would not have let the model write is still judged by the domain schema alone.
    braced = {**QA, "text": "{ text: }} " + QA["text"]}
    assert not re.fullmatch(pattern, braced["text"]) and requests.schema.first_error(braced) is None
    plain = pipeline.open_project(copy_project(tmp_path / "plain", {"sampling.text_pattern": None}))
    _, _, unconstrained = Requests(plain, Target("http://127.0.0.1:9/v1", "m"), "json_object").request(item)
    assert "pattern" not in json.dumps(unconstrained)
