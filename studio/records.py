"""The Record (one JSON line: id, data, meta), stable ids, and JSONL files that survive kill -9.

Appends are flushed to the OS at every record (a killed process loses nothing it wrote) and fsynced in
batches (a power cut loses at most the last batch, which the request cache gives back for free). A torn
last line, left by a crash in the middle of a write, is cut off when the file is opened again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from studio.errors import StudioError


def canonical_json(value: Any) -> str:
    """One spelling per value (sorted keys, no spaces), so hashes of equal values are equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_hash(*parts: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:length]


def stable_id(template: str, axes: dict[str, str], sample_index: int) -> str:
    """The id of a planned item: the same template, axis values and sample index give the same id."""
    return stable_hash("item", template, axes, sample_index)


@dataclass
class Record:
    id: str
    data: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "data": self.data, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any], file: Path | str = "", line: int | None = None) -> Record:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not isinstance(d.get("data"), dict):
            raise StudioError("expected a record: an object with a string `id` and an object `data`", file, line)
        return cls(d["id"], d["data"], d.get("meta") or {})


def mend_unicode(value: Any) -> Any:
    """Lone surrogates (what JSON's escape "\\ud87e" from a model decodes to, which UTF-8 cannot hold)
    replaced by U+FFFD, in a string or anywhere inside a JSON value."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {k: mend_unicode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mend_unicode(v) for v in value]
    return value


def dumps_line(obj: Record | dict[str, Any] | str) -> str:
    """One JSON line; a str is taken as a line already made (e.g. by a worker process)."""
    if isinstance(obj, str):
        return obj
    d = obj.to_dict() if isinstance(obj, Record) else obj
    line = json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n"
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            # A model can write a lone surrogate ("\\ud87e"), which UTF-8 cannot hold: escape this line instead.
            line = json.dumps(d, separators=(",", ":")) + "\n"
    return line


@dataclass
class BadLine:
    """A line that is not a JSON object: reported by line number, never silently skipped."""

    line: int
    reason: str
    raw: str


def parse_line(n: int, raw: bytes) -> dict[str, Any] | BadLine:
    """One line of a JSONL file: the object, or what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return BadLine(n, f"not UTF-8 (byte {e.start})", raw.decode("utf-8", "replace").rstrip("\n"))
    stripped = text.removeprefix("\ufeff").strip()  # a byte-order mark, as some editors write one
    if not stripped:
        return BadLine(n, "empty line", "")
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as e:
        return BadLine(n, f"not valid JSON ({e.msg} at column {e.colno})", stripped)
    if not isinstance(obj, dict):
        return BadLine(n, f"expected a JSON object, got {type(obj).__name__}", stripped)
    return obj


def scan_jsonl(path: Path | str) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Every line of a JSONL file: its number and either the object or what is wrong with it."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            yield n, parse_line(n, raw)


def read_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file; the first bad line is a StudioError naming the file and line."""
    try:
        for n, item in scan_jsonl(path):
            if isinstance(item, BadLine):
                raise StudioError(item.reason, path, n)
            yield item
    except FileNotFoundError:
        raise StudioError("file not found", path) from None


def read_records(path: Path | str) -> list[Record]:
    out = []
    for n, obj in enumerate(read_jsonl(path), 1):
        out.append(Record.from_dict(obj, path, n))
    return out


def repair_torn_tail(path: Path | str) -> int:
    """Cut an unterminated last line (a write interrupted by a crash). Returns the bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # Walk back to the last newline.
        pos, chunk = size, 65536
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            block = f.read(pos - start)
            i = block.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        else:
            keep = 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        return size - keep


class JsonlWriter:
    """Append-only JSONL: every line flushed to the OS at once, fsynced every `fsync_every` lines or seconds."""

    def __init__(self, path: Path | str, fsync_every: int = 200, fsync_seconds: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_torn_tail(self.path)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held open for the writer's life)
        self._every, self._seconds = fsync_every, fsync_seconds
        self._pending, self._last_sync = 0, time.monotonic()

    def write(self, obj: Record | dict[str, Any]) -> None:
        self._f.write(dumps_line(obj))
        self._f.flush()
        self._pending += 1
        if self._pending >= self._every or time.monotonic() - self._last_sync >= self._seconds:
            self.sync()

    def sync(self) -> None:
        if self._pending:
            os.fsync(self._f.fileno())
            self._pending, self._last_sync = 0, time.monotonic()

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_jsonl(path: Path | str, items: Iterable[Record | dict[str, Any] | str]) -> int:
    """Write a whole file atomically: readers see the old file or the new one, never a mix."""
    n = 0

    def write(f: TextIO) -> None:
        nonlocal n
        for item in items:
            f.write(dumps_line(item))
            n += 1

    replace_atomically(Path(path), write)
    return n


def write_json(path: Path | str, value: Any) -> None:
    """A JSON file written atomically, pretty for people to read."""

    def write(f: TextIO) -> None:
        json.dump(value, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")

    replace_atomically(Path(path), write)


def replace_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write through a temporary file of its own (two writers never share one), fsync it, rename it over
    `path`, and fsync the folder, so the rename itself survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
