"""What the gate reads and writes: studio records ({id, data, meta}) or any JSON object, one per line.

Kept lines go out in the shape they came in (a user's plain JSONL stays plain). Dropped lines always go out
as records, so the reason has a place: {id, data: the item, meta: {..., "line": n, "rejected": {...}}}.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.records import BadLine, scan_jsonl


@dataclass
class Item:
    line: int
    id: str
    data: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    record: bool = True  # a studio record; else a plain object, written back as it came

    def kept(self) -> dict[str, Any]:
        return {"id": self.id, "data": self.data, "meta": self.meta} if self.record else self.data

    def dropped(self, rejected: dict[str, Any]) -> dict[str, Any]:
        meta = self.meta if self.record else {"line": self.line}
        return {"id": self.id, "data": self.data, "meta": {**meta, "rejected": rejected}}


def is_record(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("id"), str) and isinstance(obj.get("data"), dict) and set(obj) <= {"id", "data", "meta"}


def to_item(obj: dict[str, Any], line: int, id_field: str = "id") -> Item:
    if is_record(obj):
        meta = obj.get("meta")
        return Item(line, obj["id"], obj["data"], meta if isinstance(meta, dict) else {}, True)
    value = dotted_value(obj, id_field)
    return Item(line, str(value) if isinstance(value, str | int) else f"line-{line}", obj, {}, False)


def dotted_value(obj: Any, dotted: str) -> Any:
    """The value at a dotted key path (`meta.score`), or None."""
    for key in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def scan_items(path: Path | str, id_field: str = "id") -> Iterator[Item | BadLine]:
    """Every line as an Item, or the BadLine it is (lenient: the caller reports it)."""
    try:
        for n, obj in scan_jsonl(path):
            yield obj if isinstance(obj, BadLine) else to_item(obj, n, id_field)
    except FileNotFoundError:
        raise StudioError("file not found", path) from None


def load_texts(path: Path | str, id_field: str = "id", text_field: str = "text") -> tuple[list[Item], list[str]]:
    """The items of a file and their texts; a broken line or a missing text is a StudioError naming the line."""
    items, texts = [], []
    for item in scan_items(path, id_field):
        if isinstance(item, BadLine):
            raise StudioError(f"{item.reason} (run `studio validate` on it first)", path, item.line)
        text = dotted_value(item.data, text_field)
        if not isinstance(text, str):
            raise StudioError(f"no text at `{text_field}` (choose the field with --text-field)", path, item.line)
        items.append(item)
        texts.append(text)
    return items, texts
