"""The curate stage: 04-reviewed.jsonl (every item accepted or rejected by review) -> 05-curated.jsonl, the
accepted items."""

from __future__ import annotations

from collections import Counter

from studio.records import read_records, write_jsonl
from studio.stage import Context, Outcome, Stage


class CurateStage(Stage):
    name = "curate"
    command = "studio curate"
    inputs = ("reviewed",)
    outputs = ("curated",)

    def run(self, ctx: Context) -> Outcome:
        records = read_records(ctx.input("reviewed"))
        kept = [r for r in records if (r.meta.get("review") or {}).get("decision") == "accepted"]
        write_jsonl(ctx.output("curated"), kept)
        by = Counter((r.meta.get("review") or {}).get("by", "?") for r in kept)
        return Outcome(
            {
                "reviewed": len(records),
                "curated": len(kept),
                "rejected": len(records) - len(kept),
                "accepted_by": dict(by),
            }
        )
