"""The run folder and its manifest: what each stage read, wrote, counted and cost, and its fingerprint.

outputs/<domain>/<run>/manifest.json lists every stage that ran. A stage whose fingerprint (its settings
and the hashes of its input files) is unchanged is skipped by the pipeline.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.records import stable_hash, write_json

DEFAULT_RUN = "default"

# The files of a run (the file registry): what each stage reads and writes is named by these keys.
FILES = {
    "plan": "00-plan.json",
    "subtopics": "00-subtopics.json",
    "generated": "01-generated.jsonl",
    "rejected": "01-rejected.jsonl",
    "unplanned": "01-unplanned.jsonl",
    "cache": "cache.sqlite",
    "valid": "02-valid.jsonl",
    "invalid": "02-invalid.jsonl",
    "unique": "03-unique.jsonl",
    "duplicates": "03-duplicates.jsonl",
    "judged": "03-judged.jsonl",
    "judge_rejected": "03-judge-rejected.jsonl",
    "reviewed": "04-reviewed.jsonl",
    "curated": "05-curated.jsonl",
    "splits": "splits",
    "model": "model",
    "model_card": "model/README.md",
    "eval": "eval.json",
    "dataset": "dataset",
    "report": "report.html",
}
# Files kept inside another stage's folder (the model card, rewritten by eval): not part of that folder's hash.
NESTED = {name for name in FILES.values() if "/" in name}


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def content_hash(path: Path, run_dir: Path | None = None) -> str:
    """A file's hash, or a folder's: the names and hashes of the files in it (nested run files left out)."""
    if not path.is_dir():
        return file_hash(path)
    inside = run_dir is not None and path.resolve().is_relative_to(run_dir.resolve())
    parts = []
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        if inside and f.resolve().relative_to(run_dir.resolve()).as_posix() in NESTED:
            continue
        parts.append((f.relative_to(path).as_posix(), file_hash(f)))
    return stable_hash(parts)


class Run:
    """One run folder. Open it with `Run.open(project, name)` or `Run(path)` for an existing one."""

    def __init__(self, path: Path | str):
        self.dir = Path(path)
        self.name = self.dir.name

    @classmethod
    def open(cls, output_dir: Path, domain: str, name: str | None = None) -> Run:
        name = name or DEFAULT_RUN
        if not name or "/" in name or name.startswith("."):
            raise StudioError(f"run name {name!r}: use a plain folder name", None, "--run")
        run = cls(Path(output_dir) / domain / name)
        run.dir.mkdir(parents=True, exist_ok=True)
        return run

    def file(self, key: str) -> Path:
        return self.dir / FILES[key]

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run for one writer: two processes writing one run would interleave lines, so the
        second gets a clear error instead. The lock dies with the process (kill -9 included)."""
        fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StudioError("another studio process is working on this run", self.dir) from None
        try:
            yield
        finally:
            os.close(fd)

    # The manifest.
    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"run": self.name, "stages": {}}
        except json.JSONDecodeError as e:
            raise StudioError(f"manifest is not valid JSON ({e.msg})", self.manifest_path, e.lineno) from None

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.manifest()["stages"].get(name)

    def record_stage(self, name: str, entry: dict[str, Any]) -> None:
        m = self.manifest()
        m["stages"][name] = {**entry, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_json(self.manifest_path, m)

    def fingerprint(self, settings: Any, inputs: list[Path]) -> str:
        """A stage's settings and the content of its input files and folders, hashed."""
        return stable_hash(settings, [(p.name, content_hash(p, self.dir)) for p in inputs if p.exists()])

    def is_current(self, name: str, fingerprint: str) -> bool:
        """True when the stage finished with this fingerprint and its outputs are still there."""
        entry = self.stage(name)
        if not entry or entry.get("fingerprint") != fingerprint or not entry.get("complete", True):
            return False
        return all((self.dir / f).exists() for f in entry.get("outputs", []))
