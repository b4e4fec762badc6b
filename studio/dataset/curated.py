"""The curate step: 04-reviewed.jsonl (every item accepted or rejected by review) -> 05-curated.jsonl, the
accepted items. Inputs: 04-reviewed.jsonl. Outputs: 05-curated.jsonl and the `curate` manifest entry."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from studio.errors import StudioError
from studio.records import read_records, write_jsonl
from studio.runs import Run


def write_curated(run: Run, force: bool = False) -> dict[str, Any]:
    source = run.file("reviewed")
    if not source.exists():
        raise StudioError("no 04-reviewed.jsonl: run `studio review pull` (or `studio run`) first", run.dir)
    fingerprint = run.fingerprint("curate", [source])
    if not force and run.is_current("curate", fingerprint):
        return {**run.stage("curate"), "skipped": True}
    started = time.monotonic()
    records = read_records(source)
    kept = [r for r in records if (r.meta.get("review") or {}).get("decision") == "accepted"]
    write_jsonl(run.file("curated"), kept)
    by = Counter((r.meta.get("review") or {}).get("by", "?") for r in kept)
    result = {
        "fingerprint": fingerprint,
        "inputs": [source.name],
        "outputs": [run.file("curated").name],
        "counts": {
            "in": len(records),
            "curated": len(kept),
            "rejected": len(records) - len(kept),
            "accepted_by": dict(by),
        },
        "seconds": round(time.monotonic() - started, 3),
        "complete": True,
    }
    run.record_stage("curate", result)
    return result
