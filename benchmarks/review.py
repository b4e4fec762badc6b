"""The local Argilla and the review round trip, measured: start-up, push, answers, pull, memory.

    .venv/bin/python benchmarks/review.py [--records 1000]

Runs its own stack in a temporary STUDIO_HOME (argilla-server's venv is the shared one; it is created
first if missing, and that time is printed apart). Rows:
- cold start: `serve` on an empty data folder (database migrations, owner user) until the API answers;
- push: the records into a new dataset, then the same records again (updates);
- answers: one reviewer's answers to every record through the bulk responses API (Argilla's own speed);
- pull: the records with their answers back, decided and written to 04-reviewed.jsonl;
- warm start: `stop`, then `serve` with the data in place (the search index rebuilt from SQLite);
- already running: `serve` again (a health check);
- memory: resident set size of each process of the stack, after the pull.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="studio-review-bench-")
    os.environ["STUDIO_HOME"] = home

    import psutil

    import studio
    from studio.review import server
    from studio.review.client import Argilla
    from tests.review.conftest import Reviewer, argilla_ids, review_project
    from tests.review.items import make_items

    rows: list[tuple[str, str]] = []
    if not server.installed():
        t0 = time.monotonic()
        server.install(print)
        rows.append(("argilla-server venv install (once per machine)", f"{time.monotonic() - t0:.1f} s"))

    t0 = time.monotonic()
    stack, _ = server.serve(port=0)
    rows.append(("cold start (empty data folder) until the API answers", f"{time.monotonic() - t0:.1f} s"))

    n = args.records
    work = Path(home) / "project"
    work.mkdir()
    project_file = review_project(work, "bench", make_items(n), size=n)
    first = studio.review_push(project_file, run="bench", show_progress=False)
    again = studio.review_push(project_file, run="bench", show_progress=False)
    assert first["counts"]["created"] == n and again["counts"]["updated"] == n
    rows.append((f"push {n} new records", f"{first['records_per_s']:.0f} records/s"))
    rows.append((f"push the same {n} again (updates)", f"{again['records_per_s']:.0f} records/s"))

    with Argilla(stack.url, stack.api_key()) as owner:
        ids = argilla_ids(owner, first["dataset"]["id"])
        reviewer = Reviewer(owner, "bench-reviewer", "studio")
        answers = [
            {"record_id": rid, "status": "submitted", "values": {"decision": "accept", "rating": 4}}
            for rid in ids.values()
        ]
        t0 = time.monotonic()
        reviewer.answer(answers)
        rows.append(
            (f"{n} answers, bulk responses API (100 a request)", f"{n / (time.monotonic() - t0):.0f} answers/s")
        )

    t0 = time.monotonic()
    pulled = studio.review_pull(project_file, run="bench", show_progress=False)
    seconds = time.monotonic() - t0
    assert pulled["counts"]["reviewed"] == n
    rows.append((f"pull {n} answered records: fetch from Argilla", f"{pulled['records_per_s']:.0f} records/s"))
    rows.append((f"pull {n}: whole stage (fetch, decide, write)", f"{n / seconds:.0f} records/s ({seconds:.1f} s)"))

    rss = {name: psutil.Process(pid).memory_info().rss / 2**20 for name, pid in stack.pids.items()}
    for name, mb in rss.items():
        rows.append((f"memory: {name}", f"{mb:.0f} MB"))
    rows.append(("memory: the whole stack", f"{sum(rss.values()):.0f} MB"))

    server.stop()
    t0 = time.monotonic()
    server.serve(port=0)
    rows.append((f"warm start ({n} records to reindex) until the API answers", f"{time.monotonic() - t0:.1f} s"))
    t0 = time.monotonic()
    server.serve()
    rows.append(("serve when already running", f"{(time.monotonic() - t0) * 1000:.0f} ms"))
    server.stop()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nreview round trip, {n} records, {os.cpu_count()} cores (load average {load})\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for what, result in rows:
        print(f"| {what:<{width}} | {result} |")


if __name__ == "__main__":
    main()
