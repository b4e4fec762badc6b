"""The domain project file (YAML): pydantic models shared by the YAML loader and the Python API.

Unknown keys are refused, and any mistake becomes one StudioError naming the file, the line, the key
path and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from studio.errors import StudioError

DEFAULT_PROJECT = "studio.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Domain(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="folder-safe name, e.g. penguin-wood")
    title: str | None = Field(default=None, description="how prompts name the domain; default: the name")
    description: str = Field(min_length=1)

    @model_validator(mode="after")
    def _default_title(self) -> Domain:
        self.title = self.title or self.name.replace("-", " ")
        return self


class Axis(Strict):
    """A diversity axis. `values` is a list, or (with `by`) a list per value of an earlier axis."""

    values: list[str] | dict[str, list[str]]
    by: str | None = None

    @model_validator(mode="after")
    def _by_matches_shape(self) -> Axis:
        if isinstance(self.values, dict) and self.by is None:
            raise ValueError("a mapping of values needs `by: <an earlier axis>`")
        if isinstance(self.values, list) and self.by is not None:
            raise ValueError("`by` needs values given as a mapping (one list per value of that axis)")
        if not all(self.values.values() if isinstance(self.values, dict) else [self.values]):
            raise ValueError("every axis needs at least one value")
        return self


class Template(Strict):
    """A prompt template: prompts/<domain>/<name>.system.j2 and <name>.user.j2, used where `when` matches."""

    name: str
    when: dict[str, list[str]] = Field(default_factory=dict)


class Subtopics(Strict):
    """The optional first pass: the LLM proposes `count` subtopics per value of `axis`."""

    axis: str
    count: int = Field(default=3, ge=1, le=50)
    template: str = "subtopics"


class SeedExamples(Strict):
    """Real examples (CSV, JSONL or Parquet) from which each request draws a few, seeded."""

    file: Path
    per_request: int = Field(default=2, ge=1, le=20)
    match: list[str] = Field(default_factory=list, description="axes whose value an example must share")


class Generate(Strict):
    n: int | None = Field(default=None, ge=1, description="items to plan; default: the whole grid once")
    sampling: Literal["grid", "random"] = "random"
    seed: int = 0
    repair: bool = True
    subtopics: Subtopics | None = None
    seed_examples: SeedExamples | None = None


class Endpoint(Strict):
    """Where requests go. No base_url: the bundled local model, started on demand."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=50)
    concurrency: int | None = Field(default=None, ge=1, le=4096)
    rpm: float | None = Field(default=None, gt=0, description="requests per minute, client-side")
    tpm: float | None = Field(default=None, gt=0, description="tokens per minute, client-side")
    batch: bool = Field(default=False, description="use the OpenAI Batch API instead of live requests")
    batch_poll_s: float = Field(default=30.0, gt=0)


class Sampling(Strict):
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=400, ge=1)
    seed: int | None = 0


class Price(Strict):
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")


class Budget(Strict):
    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)


class Project(Strict):
    domain: Domain
    schema_: Path = Field(alias="schema")
    prompts: Path
    templates: list[Template] = Field(min_length=1)
    axes: dict[str, Axis] = Field(default_factory=dict)
    generate: Generate = Field(default_factory=Generate)
    endpoint: Endpoint = Field(default_factory=Endpoint)
    sampling: Sampling = Field(default_factory=Sampling)
    prices: dict[str, Price] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    output: Path = Path("outputs")
    # Where the file was read from: relative paths in it are relative to this folder.
    root: Path = Field(default=Path("."), exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("axes", mode="before")
    @classmethod
    def _shorthand_axes(cls, axes: Any) -> Any:
        # `style: [a, b]` is shorthand for `style: {values: [a, b]}`.
        if isinstance(axes, dict):
            return {k: {"values": v} if isinstance(v, list) else v for k, v in axes.items()}
        return axes

    @model_validator(mode="after")
    def _cross_references(self) -> Project:
        seen: dict[str, set[str]] = {}
        for name, axis in self.axes.items():
            if axis.by is not None:
                if axis.by not in seen:
                    raise ValueError(f"axes.{name}.by: '{axis.by}' is not an axis declared before '{name}'")
                missing = seen[axis.by] - set(axis.values)
                if missing:
                    raise ValueError(f"axes.{name}.values: no list for {axis.by} value(s) {sorted(missing)}")
                values = {v for vs in axis.values.values() for v in vs}  # type: ignore[union-attr]
            else:
                values = set(axis.values)  # type: ignore[arg-type]
            seen[name] = values
        for i, template in enumerate(self.templates):
            for axis, wanted in template.when.items():
                if axis not in seen:
                    raise ValueError(f"templates[{i}].when: '{axis}' is not an axis")
                unknown = set(wanted) - seen[axis]
                if unknown:
                    raise ValueError(f"templates[{i}].when.{axis}: {sorted(unknown)} not values of that axis")
        subtopics = self.generate.subtopics
        if subtopics and subtopics.axis not in seen:
            raise ValueError(f"generate.subtopics.axis: '{subtopics.axis}' is not an axis")
        for i, key in enumerate(self.generate.seed_examples.match if self.generate.seed_examples else []):
            if key not in seen:
                raise ValueError(f"generate.seed_examples.match[{i}]: '{key}' is not an axis")
        return self

    # Paths resolved against the project file's folder.
    def path(self, p: Path | str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p

    @property
    def schema_path(self) -> Path:
        return self.path(self.schema_)

    @property
    def prompts_dir(self) -> Path:
        return self.path(self.prompts)

    @property
    def output_dir(self) -> Path:
        return self.path(self.output)


def load_project(path: str | Path = DEFAULT_PROJECT, overrides: dict[str, Any] | None = None) -> Project:
    """Read and validate a project file. `overrides` maps dotted keys to values (CLI flags win)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudioError("project file not found (give one with --project, or run `studio init DIR`)", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudioError(f"cannot read the project file: {e}", path) from None
    try:
        raw = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise StudioError(f"not valid YAML: {problem}", path, mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise StudioError("expected a mapping of keys (domain, schema, prompts, templates, ...)", path)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value)
    try:
        project = Project.model_validate(raw)
    except ValidationError as e:
        raise _one_line(e, path, node) from None
    project.root = path.resolve().parent
    return project


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        if not isinstance(raw.get(key), dict):
            raw[key] = {}
        raw = raw[key]
    raw[last] = value


def _one_line(error: ValidationError, path: Path, node: yaml.Node | None) -> StudioError:
    """The first validation error as one line: file, line, key path, what was expected."""
    first = error.errors()[0]
    # Drop the union-branch tags pydantic puts into locations (e.g. 'list[str]').
    loc = [p for p in first["loc"] if not (isinstance(p, str) and "[" in p)]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see the project-file reference in README.md)"
    elif first["type"] == "missing":
        msg = "required key is missing"
    elif "input" in first and not isinstance(first["input"], dict | list):
        msg = f"{msg} (got {first['input']!r})"
    # A cross-reference error names its own key path inside the message.
    if not loc and ": " in msg and msg.split(": ", 1)[0].replace(".", "").replace("_", "").isalnum():
        key, msg = msg.split(": ", 1)
        loc = [int(p) if p.isdigit() else p for p in _split_key(key)]
    key = _format_loc(loc)
    return StudioError(msg, path, f"line {_line_of(node, loc)}: {key}" if key else None)


def _split_key(key: str) -> list[str]:
    return [p for p in key.replace("[", ".").replace("]", "").split(".") if p]


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """The 1-based line of the deepest YAML node on the key path that exists."""
    line = node.start_mark.line + 1 if node is not None else 1
    for p in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == p]
            if not match:
                break
            key_node, node = match[0]
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and p < len(node.value):
            node = node.value[p]
            line = node.start_mark.line + 1
        else:
            break
    return line
