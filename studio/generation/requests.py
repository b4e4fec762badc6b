"""Request building: what one planned item is asked with (schema, messages, parameters) and its cache key,
and what is wrong with a reply. Pure: no network, no files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from studio.generation.cache import request_key
from studio.generation.client import drop_nulls, extract_json, response_format
from studio.generation.examples import ExamplePool
from studio.generation.plan import PlannedItem
from studio.generation.templates import Templates
from studio.project import Project
from studio.records import canonical_json, mend_unicode, stable_hash
from studio.schema import DomainSchema, map_subschemas
from studio.target import Target


class Requests:
    def __init__(self, project: Project, target: Target, mode: str):
        self.project, self.target, self.mode = project, target, mode
        self.schema = DomainSchema.load(project.schema_path)
        self.templates = Templates(project.prompts_dir)
        self.templates.check([t.name for t in project.templates])
        ex = project.generate.seed_examples
        self.examples = (
            ExamplePool.load(project.path(ex.file), ex.per_request, ex.match, project.generate.seed) if ex else None
        )
        self._narrowed: dict[str, DomainSchema] = {}
        self.axis_values = {name: axis.all_values() for name, axis in project.axes.items()}
        # What is made from a schema (its prompt text, decoding schema, response format per mode), once per
        # schema: keyed by id, with the schema itself kept so that its id cannot be reused by another one.
        self._made: dict[int, tuple[dict[str, Any], dict[Any, Any]]] = {}

    def target_schema(self, axes: dict[str, str]) -> DomainSchema:
        """The schema an item is asked for: the domain schema narrowed to its axis values, compiled once."""
        key = canonical_json(axes)
        if key not in self._narrowed:
            self._narrowed[key] = self.schema.branch(axes)
        return self._narrowed[key]

    def _once(self, schema: dict[str, Any], what: Any, make: Callable[[], Any]) -> Any:
        made = self._made.setdefault(id(schema), (schema, {}))[1]
        if what not in made:
            made[what] = make()
        return made[what]

    def schema_text(self, schema: dict[str, Any], mode: str | None = None) -> str:
        """The schema as the prompt shows it, made once per narrowed schema (there are few) and mode: in text
        mode, where nothing decodes to them, with its patterns."""
        patterns = (mode or self.mode) == "text"
        return self._once(
            schema, ("text", patterns), lambda: json.dumps(prompt_schema(schema, patterns), ensure_ascii=False)
        )

    def variables(self, item: PlannedItem, schema: dict[str, Any], mode: str | None = None) -> dict[str, Any]:
        d = self.project.domain
        return {
            "domain": {"name": d.name, "title": d.title, "description": d.description},
            **item.axes,
            "axes": item.axes,
            "axis_values": self.axis_values,  # every value of each axis ("the other labels")
            "sample_index": item.sample_index,
            "schema": self.schema_text(schema, mode),
            "examples": self.examples.draw(item.id, item.axes) if self.examples else [],
        }

    def decoding_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema the endpoint decodes to, made once per narrowed schema: with sampling.text_pattern on the
        text field. (In json_schema mode it goes out as OpenAI's strict subset; the reply is still validated
        against the domain schema itself.)"""
        pattern, field = self.project.sampling.text_pattern, self.project.quality.text_field
        if not pattern or field not in (schema.get("properties") or {}):
            return schema
        properties = schema["properties"]
        return self._once(
            schema,
            "decoding",
            lambda: {**schema, "properties": {**properties, field: {**properties[field], "pattern": pattern}}},
        )

    def probe_schema(self) -> dict[str, Any]:
        """What structured output is negotiated with: the decoding schema of an item with each axis's first
        value, as a real item is asked."""
        axes = {name: values[0] for name, values in self.axis_values.items()}
        return self.decoding_schema(self.target_schema(axes).schema)

    def params(self, item_id: str, schema: dict[str, Any], retry: int = 0, mode: str | None = None) -> dict[str, Any]:
        s = self.project.sampling
        params: dict[str, Any] = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
        if s.seed is not None:
            # One seed per item (identical prompts of one cell must not give one answer), and per retry of a
            # rejected item (--retry-rejected), which must not get the same answer again.
            salt = (s.seed, item_id) if not retry else (s.seed, item_id, retry)
            params["seed"] = int(stable_hash(*salt, length=8), 16) % 2**31
        mode = mode or self.mode
        fmt = self._once(schema, ("format", mode), lambda: response_format(mode, self.decoding_schema(schema)))
        if fmt is not None:
            params["response_format"] = fmt
        return params

    def request(
        self, item: PlannedItem, retry: int = 0, mode: str | None = None
    ) -> tuple[DomainSchema, list[dict[str, str]], dict[str, Any]]:
        """What an item is asked with (in `mode`, default the run's): the schema it must match, the messages,
        the parameters."""
        schema = self.target_schema(item.axes)
        return (
            schema,
            self.templates.render(item.template, self.variables(item, schema.schema, mode)),
            self.params(item.id, schema.schema, retry, mode),
        )

    def by_prompt(self, pending: list[tuple[PlannedItem, int]]) -> list[tuple[PlannedItem, int]]:
        """The pending items in the order of their prompts, so that neighbours share the longest opening: an
        endpoint serving one request at a time (llama.cpp) keeps the last prompt's cache and skips what is shared.
        The files keep the plan's order whatever the order asked in."""
        return sorted(pending, key=lambda p: "\0".join(m["content"] for m in self.request(*p)[1]))

    def key(self, messages: list[dict[str, str]], params: dict[str, Any], sample_index: int, retry: int = 0) -> str:
        """The cache key of a request: endpoint, model, messages, parameters, sample index (and retry)."""
        extra = {"i": sample_index, **({"retry": retry} if retry else {})}
        return request_key(self.target.identity, self.target.model, messages, {**params, **extra})

    def first_key(self, item: PlannedItem, retry: int = 0, mode: str | None = None) -> str:
        """The key of an item's first request, as asked in `mode` (default: the run's): a record made in a
        mode the run has since stepped down from still answers the plan's request."""
        _, messages, params = self.request(item, retry, mode)
        return self.key(messages, params, item.sample_index, retry)

    def check(self, text: str, finish_reason: str | None, schema: DomainSchema) -> tuple[Any, str | None]:
        """The item in a reply and what is wrong with it (None when it is valid)."""
        try:
            data = mend_unicode(extract_json(text))
        except ValueError as e:
            data, problem = None, f"{e}"
        else:
            if not isinstance(data, dict):
                return None, f"expected a JSON object, got {type(data).__name__}"
            data = drop_nulls(data)  # strict mode's nulls for optional fields (and a null is no value anyway)
            problem = schema.first_error(data)
        if finish_reason == "length":
            problem = f"cut off at max_tokens ({self.project.sampling.max_tokens}) before the reply was complete"
        return data, problem


def prompt_schema(schema: Any, patterns: bool = False) -> Any:
    """The schema as the prompt shows it: without annotations, which small models copy into their answers, and
    without patterns (the endpoint's grammar enforces them; as text they are noise a small model echoes) unless
    `patterns`: in text mode nothing else tells the model."""
    drop = ("$schema", "$id", "title", "description", "examples") + (() if patterns else ("pattern",))
    return map_subschemas(schema, lambda sub: {k: v for k, v in sub.items() if k not in drop})


def repair_prompt(problem: str) -> str:
    if problem.startswith("cut off"):
        return "Your reply was cut off before it was complete. Reply again with a shorter, complete JSON object only."
    return f"Your reply is not valid: {problem}. Reply again with the corrected JSON object only."
