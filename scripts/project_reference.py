"""The project-file reference (every key, its default and meaning) as a Markdown table, made from the
pydantic models themselves, so the README's table is never out of date (tests/test_readme.py checks it).

    python scripts/project_reference.py            # print it
    python scripts/project_reference.py --write    # put it into README.md between its markers
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from studio.project import Project  # noqa: E402

SECTION_DOCS = {"domain", "generate", "endpoint", "sampling", "budget", "quality", "review", "train", "share"}


def model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (`X`, `X | None`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def default_text(field: object) -> str:
    default = field.default  # type: ignore[attr-defined]
    if default is PydanticUndefined:
        factory = field.default_factory  # type: ignore[attr-defined]
        if factory is None:
            return "required"
        default = factory()
    if isinstance(default, BaseModel):
        return ""
    if isinstance(default, Path):
        return f"`{default}`"
    return f"`{json.dumps(default, default=str)}`" if default not in (None, "") else "none"


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    out = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = prefix + (field.alias or name)
        inner = model_of(field.annotation)
        if inner is not None and inner.model_fields:
            if not prefix and (field.alias or name) in SECTION_DOCS:
                out.append((key, "", (inner.__doc__ or "").strip().split("\n")[0]))
            out.extend(rows(inner, key + "."))
            continue
        out.append((key, default_text(field), field.description or ""))
    return out


def table() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{k}` | {d} | {m.replace('|', '/')} |" for k, d, m in rows(Project)]
    return "\n".join(lines)


START, END = "<!-- project-reference:start -->", "<!-- project-reference:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def in_readme(text: str) -> str:
    """The README's text with the table between the markers."""
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{table()}\n{END}{rest.split(END, 1)[1]}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        README.write_text(in_readme(README.read_text()))
    else:
        print(table())
