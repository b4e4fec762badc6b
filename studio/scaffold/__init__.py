"""`studio init DIR`: a new domain project (project file, a template per kind, a schema) from a name and a
one-paragraph description. The prompt templates and the schema are generic (they name the domain through
`domain.title` and `domain.description`); edit them to make the items as specific as the domain needs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from studio.errors import StudioError

HERE = Path(__file__).parent
TEMPLATES = ["item", "qa", "subtopics"]

AXES = {
    "kind": ["overview", "properties", "uses", "history", "qa"],
    "focus": {
        "by": "kind",
        "values": {
            "overview": ["appearance", "what sets it apart", "key facts"],
            "properties": ["physical properties", "strengths", "weaknesses"],
            "uses": ["everyday uses", "specialist uses", "how to work with it"],
            "history": ["origins", "key figures", "place in culture"],
            "qa": ["basics", "properties", "uses", "history"],
        },
    },
    "style": ["an encyclopedia entry", "a practitioner's notes", "a museum label"],
    "audience": ["beginners", "practitioners", "collectors"],
    "length": ["short", "medium"],
}


def scaffold(folder: Path, name: str, description: str, title: str | None = None) -> list[Path]:
    """Write the project into `folder` (created; existing files are never overwritten). Returns the files."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise StudioError("use lower-case letters, digits, - and _ (it names folders)", None, f"--name {name!r}")
    if not description.strip():
        raise StudioError("describe the domain in a paragraph: the prompts quote it", None, "--description")
    folder = Path(folder)
    project = folder / "studio.yaml"
    if project.exists():
        raise StudioError("a project file is already there; not overwriting it", project)
    prompts, schemas = folder / "prompts" / name, folder / "schemas"
    prompts.mkdir(parents=True, exist_ok=True)
    schemas.mkdir(parents=True, exist_ok=True)
    written = []
    for template in TEMPLATES:
        for part in ("system", "user"):
            target = prompts / f"{template}.{part}.j2"
            if not target.exists():
                shutil.copyfile(HERE / f"{template}.{part}.j2", target)
                written.append(target)
    schema = schemas / f"{name.replace('-', '_')}.json"
    if not schema.exists():
        shutil.copyfile(HERE / "schema.json", schema)
        written.append(schema)
    config = {
        "domain": {"name": name, "title": title or name.replace("-", " "), "description": description.strip()},
        "schema": str(schema.relative_to(folder)),
        "prompts": str(prompts.relative_to(folder)),
        "templates": [
            {"name": "item", "when": {"kind": ["overview", "properties", "uses", "history"]}},
            {"name": "qa", "when": {"kind": ["qa"]}},
        ],
        "axes": AXES,
        "generate": {"n": 60, "sampling": "random", "seed": 0},
        "endpoint": {"base_url": None, "model": None, "api_key_env": "OPENAI_API_KEY"},
        "sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 400, "seed": 0},
        "output": "outputs",
    }
    header = f"# studio.yaml: the {name} domain, made by `studio init`. The reference is in studio's README.\n"
    project.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110))
    return [project, *written]
