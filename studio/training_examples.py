"""How a record becomes what a model learns from: a value by key, and a chat pair (prompt, response).

Shared by the fine-tune (studio.train) and the dataset export (OpenAI's chat fine-tuning JSONL), so both
teach the same thing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Environment, Template, TemplateError

from studio.errors import StudioError
from studio.project import Train
from studio.records import Record


def item_value(record: Record, key: str) -> Any:
    """An item's value for `key`: a (dotted) key of its data, else one of its axis values."""
    node: Any = record.data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        node = (record.meta.get("axes") or {}).get(key)
    return node


@lru_cache(maxsize=16)
def instruction_template(source: str) -> Template:
    try:
        # Jinja2's default Undefined renders empty and is false: `{% if focus %}` fits items without that axis.
        return Environment().from_string(source)
    except TemplateError as e:
        raise StudioError(f"not a valid Jinja2 template: {e}", None, "train.instruction") from None


def chat_pair(record: Record, settings: Train, domain: str) -> tuple[str, Any]:
    """The prompt (the item's own, e.g. its question, else the instruction rendered from its axes) and the
    response (the matching answer, the text, or the whole item as JSON, per train.target). The response
    may be missing (None): the caller reports which item lacks what."""
    prompt = item_value(record, settings.prompt_field)
    response = item_value(record, settings.text_field)
    if prompt is None:
        axes = record.meta.get("axes") or {}
        prompt = instruction_template(settings.instruction).render(**{**axes, "domain": domain}).strip()
    elif settings.target == "text":
        response = item_value(record, settings.response_field)
    if settings.target == "item":
        response = json.dumps(record.data, ensure_ascii=False)
    return str(prompt), response


def chat_messages(title: str, prompt: str, response: str | None = None) -> list[dict[str, str]]:
    """OpenAI's chat turns of an example: the system turn, the prompt and, to learn from, the response. The
    exported chat file, an OpenAI fine-tuning job and its evaluation all use these turns."""
    system = f"You are an expert on {title}. Answer accurately and concisely."
    turns = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return turns + ([{"role": "assistant", "content": response}] if response is not None else [])
