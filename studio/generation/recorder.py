"""The recorder: what the generate stage's files hold.

Earlier attempts' records are read from the committed files; the plan decides which of them still count.
At the end the files are assembled anew: 01-generated.jsonl and 01-rejected.jsonl hold exactly the planned
ids (in plan order), and every other record made before goes to 01-unplanned.jsonl, from where it comes
back (without a request) when the plan takes it in again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.generation.plan import PlannedItem
from studio.records import Record, read_jsonl, write_jsonl
from studio.runs import Run

# Later files win: an item accepted after a retry may still stand in an older rejected file.
EARLIER = ("unplanned", "rejected", "generated")


def earlier_records(run: Run) -> dict[str, dict[str, Any]]:
    """Every record the stage's committed files hold, by id."""
    out: dict[str, dict[str, Any]] = {}
    for key in EARLIER:
        if run.file(key).exists():
            out.update((r["id"], r) for r in read_jsonl(run.file(key)))
    return out


def retryable(record: dict[str, Any]) -> bool:
    """Rejected for want of a reply (timeouts, outages, an expired batch): asking again can help."""
    return bool(record.get("meta", {}).get("rejected", {}).get("retryable"))


@dataclass
class Todo:
    """What the plan needs made: items with the retry number to ask with, and the records that stand."""

    pending: list[tuple[PlannedItem, int]] = field(default_factory=list)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale: int = 0


def todo(
    items: list[PlannedItem],
    earlier: dict[str, dict[str, Any]],
    first_key: Callable[[PlannedItem, int, str | None], str],
    retry_rejected: bool = False,
) -> Todo:
    """Which planned items stand and which are made (again): a record stands unless it was rejected for
    want of a reply, rejected at all (with retry_rejected, asked anew with the next retry number), or
    stale (asked with another template or parameters than the plan's request, in the mode it was asked in)."""
    out = Todo()
    for item in items:
        record = earlier.get(item.id)
        if record is None:
            out.pending.append((item, 0))
            continue
        meta = record.get("meta", {})
        retry = meta.get("retry", 0)
        if retryable(record):
            out.pending.append((item, retry))
        elif "rejected" in meta and retry_rejected:
            out.pending.append((item, retry + 1))
        elif meta.get("request_key") != first_key(item, retry, meta.get("structured_output")):
            out.pending.append((item, 0))
            out.stale += 1
        else:
            out.kept[item.id] = record
    return out


def assemble(
    ctx_output: Callable[[str], Any],
    items: list[PlannedItem],
    earlier: dict[str, dict[str, Any]],
    kept: dict[str, dict[str, Any]],
    made: dict[str, Record],
) -> dict[str, int]:
    """Write the stage's three files into the staging folder; returns what they hold."""
    planned = {i.id for i in items}
    accepted, rejected, pending = [], [], 0
    for item in items:
        record = made[item.id].to_dict() if item.id in made else kept.get(item.id)
        if record is None:
            pending += 1
        elif "rejected" in record.get("meta", {}):
            rejected.append(record)
        else:
            accepted.append(record)
    unplanned = [r for i, r in earlier.items() if i not in planned and not retryable(r)]
    write_jsonl(ctx_output("generated"), accepted)
    write_jsonl(ctx_output("rejected"), rejected)
    if unplanned:
        write_jsonl(ctx_output("unplanned"), unplanned)
    return {
        "accepted": len(accepted),
        "rejected": len(rejected),
        "retryable": sum(1 for r in rejected if retryable(r)),
        "pending": pending,
        "unplanned": len(unplanned),
    }
