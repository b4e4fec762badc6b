"""Validate and clean: every line of a JSONL file checked against the domain schema and the cleaning rules.

A line ends in exactly one of two files. Kept: cleaned, valid against the schema (Draft 2020-12, formats
checked) and past every heuristic filter, with `meta.clean`. Dropped: with `meta.rejected` naming the rule
(`encoding`, `empty`, `json`, `record`, `schema`, `length`, `repetition`, `language`, `pii`) and the reason;
schema failures list every error with its JSON path. Broken lines are reported by number, never skipped.

Order per item: normalise and redact, then the schema (so a cleaned item is checked as it will be kept),
then the heuristic filters on its text.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match

from studio.errors import StudioError
from studio.project import Project, Quality
from studio.quality.clean import Cleaner
from studio.quality.items import Item, to_item
from studio.records import BadLine, dumps_line, parse_line, write_jsonl
from studio.schema import DomainSchema, error_text, json_path
from studio.stage import Context, Outcome, Stage

BAD_LINE_RULE = {"not UTF-8": "encoding", "empty line": "empty"}
SAY_WHY = {"encoding", "empty", "json", "record", "length"}
WHICH_KEY = {"required", "additionalProperties", "unevaluatedProperties"}


@dataclass
class Tally:
    kept: list[str] = field(default_factory=list)  # JSON lines: cheap to hand back from a worker process
    dropped: list[str] = field(default_factory=list)
    by_rule: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # "rule: what", for the summary
    changed: int = 0
    markup: int = 0
    redacted: int = 0

    def add(self, other: Tally) -> None:
        self.kept += other.kept
        self.dropped += other.dropped
        self.failures.update(other.failures)
        self.by_rule.update(other.by_rule)
        self.changed += other.changed
        self.markup += other.markup
        self.redacted += other.redacted

    def counts(self, seconds: float) -> dict[str, Any]:
        lines = len(self.kept) + len(self.dropped)
        return {
            "lines": lines,
            "valid": len(self.kept),
            "invalid": len(self.dropped),
            "cleaned": self.changed,
            "markup_removed": self.markup,
            "redacted": self.redacted,
            "by_rule": dict(self.by_rule.most_common()),
            "items_per_s": round(lines / seconds) if seconds else None,
        }


class Validator:
    def __init__(
        self, schema: DomainSchema, settings: Quality, records_only: bool = False, clean: bool = True, domain: str = ""
    ):
        self.schema, self.settings, self.records_only = schema, settings, records_only
        self.cleaner = Cleaner(settings.clean, settings.text_field, domain) if clean else None

    def lines(self, batch: list[tuple[int, bytes]], id_field: str = "id") -> Tally:
        out = Tally()
        for n, raw in batch:
            obj = parse_line(n, raw)
            if isinstance(obj, BadLine):
                rule = next((r for prefix, r in BAD_LINE_RULE.items() if obj.reason.startswith(prefix)), "json")
                self.drop(out, Item(n, f"line-{n}", {}, {"line": n, "raw": obj.raw[:2000]}), rule, obj.reason)
            else:
                self.item(out, to_item(obj, n, id_field))
        return out

    def item(self, out: Tally, item: Item) -> None:
        if self.records_only and not item.record:
            self.drop(out, item, "record", "expected a studio record: an object with `id`, `data` and `meta`")
            return
        cleaned = self.cleaner(item.data, item.meta if item.record else None) if self.cleaner else None
        if cleaned:
            item.data = cleaned.data
        errors = self.schema.check(item.data)
        if errors:
            for e in errors:
                # Which key is missing or unexpected is worth counting; a bad value is counted by its rule.
                what = e.message if e.validator in WHICH_KEY else e.validator
                out.failures[f"schema: {json_path(e.absolute_path)}: {what}"] += 1
            reason = error_text(best_match(errors))
            self.drop(out, item, "schema", reason, errors=[error_text(e) for e in errors])
            return
        if cleaned is None:
            out.kept.append(dumps_line(item.kept()))
            return
        out.changed += bool(cleaned.changed)
        out.markup += bool(cleaned.markup) and not cleaned.rejected
        out.redacted += bool(cleaned.redactions)
        if cleaned.rejected:
            self.drop(out, item, cleaned.rejected["rule"], cleaned.rejected["reason"])
            return
        if item.record:
            item.meta = {**item.meta, "clean": cleaned.mark()}
        out.kept.append(dumps_line(item.kept()))

    def drop(self, out: Tally, item: Item, rule: str, reason: str, **extra: Any) -> None:
        if rule != "schema":
            # The reason without its particulars (a column, a byte, a count): "json: not valid JSON".
            out.failures[f"{rule}: {reason.split(' (')[0].split(':')[0]}" if rule in SAY_WHY else rule] += 1
        out.by_rule[rule] += 1
        out.dropped.append(dumps_line(item.dropped({"stage": "validate", "rule": rule, "reason": reason, **extra})))


def validate_file(
    path: Path | str,
    schema: DomainSchema,
    settings: Quality,
    valid_path: Path,
    invalid_path: Path,
    id_field: str = "id",
    records_only: bool = False,
    clean: bool = True,
    workers: int = 1,
    domain: str = "",
    engine: str = "local",
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Check every line of `path`; write the kept and the dropped lines. Returns counts and the top failures.
    `domain`: the project's domain description (an item copied from it is an echo of the prompt). `engine`:
    local, or ray (the batches checked as a Ray Data job, the same decisions).
    With `workers` > 1, batches of lines are checked by that many processes (in order): worth it for large
    files on idle cores, a loss on cores already busy."""
    path = Path(path)
    for target in (valid_path, invalid_path):
        if Path(target).resolve() == path.resolve():
            raise StudioError("the output would overwrite the input: choose another --out folder", path)
    if not path.is_file():
        raise StudioError("file not found", path)
    t0 = time.perf_counter()
    validator = Validator(schema, settings, records_only, clean, domain)
    outcome = Tally()
    if engine == "ray":
        from studio.quality import ray_jobs

        check = _remote_check(schema.schema, schema.source, settings, records_only, clean, domain, id_field)
        for part in ray_jobs.ordered_map(check, list(batches(path)), say):
            outcome.add(part)
    elif workers > 1:
        # fork: the workers inherit the compiled validators instead of unpickling them.
        with multiprocessing.get_context("fork").Pool(workers, _start_worker, (validator, id_field)) as pool:
            for part in pool.imap(_check_batch, batches(path)):
                outcome.add(part)
    else:
        for batch in batches(path):
            outcome.add(validator.lines(batch, id_field))
    write_jsonl(valid_path, outcome.kept)
    write_jsonl(invalid_path, outcome.dropped)
    seconds = time.perf_counter() - t0
    return {
        "counts": outcome.counts(seconds),
        "top_failures": outcome.failures.most_common(10),
        "seconds": round(seconds, 3),
        "workers": workers,
        "files": {"valid": str(valid_path), "invalid": str(invalid_path)},
    }


def batches(path: Path, size: int = 2000) -> Iterator[list[tuple[int, bytes]]]:
    with open(path, "rb") as f:
        numbered = enumerate(f, 1)
        while batch := list(itertools.islice(numbered, size)):
            yield batch


def _remote_check(
    schema: dict[str, Any], source: str, settings: Quality, records_only: bool, clean: bool, domain: str, id_field: str
) -> Callable[[list[tuple[int, bytes]]], Tally]:
    """What a Ray task runs on a batch: a Validator made where it runs, from plain settings (compiled schemas
    and patterns are made again there, not shipped)."""

    def check(batch: list[tuple[int, bytes]]) -> Tally:
        return Validator(DomainSchema(schema, source), settings, records_only, clean, domain).lines(batch, id_field)

    return check


_worker: tuple[Validator, str] | None = None


def _start_worker(validator: Validator, id_field: str) -> None:
    global _worker
    _worker = validator, id_field


def _check_batch(batch: list[tuple[int, bytes]]) -> Tally:
    assert _worker is not None
    validator, id_field = _worker
    return validator.lines(batch, id_field)


def validate_standalone(
    file: Path | str,
    project: Project | None,
    schema: Path | str | None = None,
    out: Path | str | None = None,
    id_field: str = "id",
    clean: bool = True,
    workers: int = 1,
    engine: str | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Any JSONL file, checked against `schema` (default: the project's), into out/valid.jsonl and
    out/invalid.jsonl (default: the file's folder). Without a project, the default cleaning rules apply.
    `engine`: local or ray (default: the project's)."""
    file = Path(file)
    if schema is None and project is None:
        raise StudioError("no schema: give --schema FILE, or a project file with --project", None, "--schema")
    domain_schema = DomainSchema.load(schema if schema is not None else project.schema_path)  # type: ignore[union-attr]
    out_dir = out_folder(out, file)
    settings = project.quality if project else Quality()
    return validate_file(
        file,
        domain_schema,
        settings,
        out_dir / "valid.jsonl",
        out_dir / "invalid.jsonl",
        id_field,
        clean=clean,
        workers=workers,
        domain=project.domain.description if project else "",
        engine=engine or (project.engine if project else "local"),
        say=say,
    )


def out_folder(out: Path | str | None, file: Path) -> Path:
    """Where a FILE's results go: `out`, else the file's folder. A file in the way is named here, in one line,
    before mkdir fails on it with a traceback."""
    folder = Path(out) if out is not None else file.parent
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == folder else f"is inside {place}, a file"
                raise StudioError(f"{what}, and --out expects a folder", folder)
            break
    return folder


# The rules' own code: a studio whose gate has changed checks the items again instead of keeping the verdict of
# the old one (generation is not asked again: its replies are cached).
GATE_CODE = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes() for name in ("artefacts.py", "clean.py", "text.py"))
).hexdigest()[:16]


class ValidateStage(Stage):
    """The run's 01-generated.jsonl into 02-valid.jsonl and 02-invalid.jsonl."""

    name = "validate"
    command = "studio validate"
    inputs = ("generated",)
    outputs = ("valid", "invalid")

    def __init__(self, clean: bool = True, workers: int = 1):
        self.clean, self.workers = clean, workers

    def settings(self, project: Project) -> Any:
        return {
            "gate": GATE_CODE if self.clean else None,
            "text_field": project.quality.text_field,
            "clean": project.quality.clean.model_dump(mode="json") if self.clean else None,
            "domain": project.domain.description if self.clean else None,
            "schema": DomainSchema.load(project.schema_path).schema,
        }

    def run(self, ctx: Context) -> Outcome:
        result = validate_file(
            ctx.input("generated"),
            DomainSchema.load(ctx.project.schema_path),
            ctx.project.quality,
            ctx.output("valid"),
            ctx.output("invalid"),
            records_only=True,
            clean=self.clean,
            workers=self.workers,
            domain=ctx.project.domain.description,
            engine=ctx.project.engine,
            say=ctx.say,
        )
        return Outcome(result["counts"], details={"top_failures": result["top_failures"]})
