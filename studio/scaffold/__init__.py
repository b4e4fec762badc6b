"""`studio init DIR`: a new domain project (project file, templates, a schema) from a name, a one-paragraph
description and the shape of the task. The prompt templates and the schema are generic (they name the domain
through `domain.title` and `domain.description`); edit them to make the items as specific as the domain needs.

- text, chat and seq2seq: reference passages of several kinds (overview, properties, uses, history) and
  question-answer pairs, tuned as plain text, as chat, or from prompt to response by an encoder-decoder (whose
  folder `train.base_model` must name: studio bundles none).
- classification: one text and its label per item. The schema holds the label's enum and the text, the axes
  the label and diversity (tone, length, detail), the template asks for a text of a given label, and
  `train.task` and `train.label` are set, so `studio run` tunes a classifier of that label.

With `--propose` (studio/scaffold/propose.py), an endpoint proposes the axes and the schema; a usable proposal
takes their place, with generic templates that render any axes, and the endpoint is recorded for `studio run`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.scaffold.propose import Endpoint

HERE = Path(__file__).parent
TEMPLATES = {"passages": ["item", "qa", "subtopics"], "classification": ["labelled"], "proposed": ["proposed"]}
TASKS = ("text", "chat", "seq2seq", "classification")

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
# Diversity for labelled texts, whatever the domain: how it is said, how long, how specific.
LABELLED_AXES = {
    "tone": ["neutral", "friendly", "annoyed", "formal"],
    "length": ["one short sentence", "two or three sentences"],
    "detail": ["in general terms", "with one concrete detail (a number, a name, a time)"],
}


def labels_from(description: str) -> list[str]:
    """The labels a description lists ("... its intent, one of: a, b, c."), else none."""
    found = re.search(r"\bone of:?\s*([^.;]+)", description)
    if not found:
        return []
    return [x.strip(" '\"`") for x in re.split(r",|\bor\b|\band\b", found.group(1)) if x.strip(" '\"`")]


def scaffold(
    folder: Path,
    name: str,
    description: str,
    title: str | None = None,
    task: str = "chat",
    labels: list[str] | None = None,
    endpoint: Endpoint | None = None,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Write the project into `folder` (created; existing files are never overwritten). Returns the files.
    With `endpoint`, ask it for the axes and the schema; when that fails, `say` why and write the plain scaffold."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise StudioError("use lower-case letters, digits, - and _ (it names folders)", None, f"--name {name!r}")
    if not description.strip():
        raise StudioError("describe the domain in a paragraph: the prompts quote it", None, "--description")
    if task not in TASKS:
        raise StudioError(f"one of {', '.join(TASKS)}", None, "--task")
    if task == "classification":
        labels = list(dict.fromkeys(labels or labels_from(description)))
        if len(labels) < 2:
            raise StudioError(
                "a classification task needs two labels or more: --labels a,b,c (or 'one of: a, b, c' in the "
                "description)",
                None,
                "--labels",
            )
    folder = Path(folder)
    project = folder / "studio.yaml"
    if project.exists():
        raise StudioError("a project file is already there; not overwriting it", project)
    proposal = None
    if endpoint is not None:  # after the checks above: bad input is an error before anything is sent
        from studio.scaffold import propose  # the openai client, imported only when asked for

        try:
            proposal = propose.propose(endpoint, title or name.replace("-", " "), description, task, labels or [])
        except propose.NotProposed as e:
            say(f"{e}; wrote the scaffold instead")
    prompts, schemas = folder / "prompts" / name, folder / "schemas"
    prompts.mkdir(parents=True, exist_ok=True)
    schemas.mkdir(parents=True, exist_ok=True)
    written = []
    kind = "proposed" if proposal else "classification" if task == "classification" else "passages"
    for template in TEMPLATES[kind]:
        for part in ("system", "user"):
            target = prompts / f"{template}.{part}.j2"
            if not target.exists():
                shutil.copyfile(HERE / f"{template}.{part}.j2", target)
                written.append(target)
    schema = schemas / f"{name.replace('-', '_')}.json"
    if not schema.exists():
        if proposal:
            schema.write_text(json.dumps(proposal.schema, indent=2) + "\n")
        elif task == "classification":
            schema.write_text(json.dumps(labelled_schema(labels or []), indent=2) + "\n")
        else:
            shutil.copyfile(HERE / "schema.json", schema)
        written.append(schema)
    config = {
        "domain": {"name": name, "title": title or name.replace("-", " "), "description": description.strip()},
        "schema": str(schema.relative_to(folder)),
        "prompts": str(prompts.relative_to(folder)),
        **(labelled_config(labels or []) if task == "classification" else passages_config(task)),
        "endpoint": {"base_url": None, "model": None, "api_key_env": "OPENAI_API_KEY"},
        "output": "outputs",
    }
    made = "`studio init`"
    if proposal and endpoint:
        # The rest of the scaffold stays. The label axis first, as in the plain scaffold: the review sample keeps
        # the mix of the first axis.
        config["templates"] = [{"name": "proposed"}]
        config["axes"] = {**({"label": labels} if task == "classification" else {}), **proposal.axes}
        # The variable's name, never its value: the key stays in the environment.
        config["endpoint"] = {
            "base_url": endpoint.base_url,
            "model": endpoint.model,
            "api_key_env": endpoint.api_key_env,
        }
        made = f"`studio init --propose` (axes and schema proposed by {endpoint.model})"
    header = f"# studio.yaml: the {name} domain, made by {made}. The reference is in studio's README.\n"
    project.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110))
    return [project, *written]


def passages_config(task: str) -> dict[str, Any]:
    return {
        "templates": [
            {"name": "item", "when": {"kind": ["overview", "properties", "uses", "history"]}},
            {"name": "qa", "when": {"kind": ["qa"]}},
        ],
        "axes": AXES,
        "generate": {"n": 60, "sampling": "random", "seed": 0},
        "sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 400, "seed": 0},
        "train": {"task": task},
    }


def labelled_schema(labels: list[str]) -> dict[str, Any]:
    """A text and its label. A branch per label: an item asked for one label is decoded to it (the schema is
    narrowed to the item's axis values), so a small model cannot write another label than the one asked."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "A labelled text of the domain",
        "type": "object",
        "required": ["label", "text"],
        "additionalProperties": False,
        "properties": {
            "label": {"enum": labels},
            "text": {"type": "string", "minLength": 20, "maxLength": 400},
        },
        "oneOf": [{"properties": {"label": {"const": label}}} for label in labels],
    }


def labelled_config(labels: list[str]) -> dict[str, Any]:
    per_label = 12  # enough for a test split that holds each label
    return {
        "templates": [{"name": "labelled"}],
        "axes": {"label": labels, **LABELLED_AXES},
        "generate": {"target": 10 * len(labels), "n": per_label * len(labels), "sampling": "random", "seed": 0},
        # The text starts with a capital or a digit, ends on . ! or ?, and holds no braces, angle brackets,
        # markdown marks or quotes (a small model's residue; a quote would end the JSON string in llama.cpp's
        # grammar); the bound is twice the schema's maxLength.
        "sampling": {
            "temperature": 0.8,
            "top_p": 0.95,
            "max_tokens": 300,
            "seed": 0,
            "text_pattern": '^[A-Z0-9][^{}<>#*_|\\"]{18,798}[.!?]$',
        },
        "train": {"task": "classification", "label": "label", "stratify": "label"},
    }
