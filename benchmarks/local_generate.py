"""`studio generate` on the local llama.cpp server (bundled model): items and accepted items per minute, in the
prompts' order (what studio does) and in the plan's order (as before), beside the same requests sent straight
to the server by a minimal loop, in one run.

    .venv/bin/python benchmarks/local_generate.py [--items 30] [--no-write]

The direct loop sends studio's rendered first requests (temperature 0), in the plan's order, before and
after studio; studio also does its bookkeeping and any repair requests. Output tokens per second of wall
time is the overhead figure: the server serves one request at a time, so anything studio adds shows up as
idle server time. The table goes into benchmarks/README.md between this script's markers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record import machine, write_between  # noqa: E402
from tests.conftest import copy_project  # noqa: E402


def direct_loop(base_url: str, model: str, requests: list[tuple[list, dict]]) -> tuple[int, float]:
    """One request after another with urllib: no client library, no bookkeeping."""
    tokens, t0 = 0, time.perf_counter()
    for messages, params in requests:
        body = json.dumps({"model": model, "messages": messages, **params}).encode()
        req = urllib.request.Request(f"{base_url}/chat/completions", body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            tokens += json.loads(r.read())["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/README.md as it is")
    args = ap.parse_args()

    import studio
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.serve import llm
    from studio.target import Target

    print(f"# machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ["STUDIO_HOME"] = str(work / "home")
    server, _ = llm.serve(port=0)
    studio_runs = {}
    try:
        project = copy_project(
            work, {"generate.n": args.items, "sampling.temperature": 0, "endpoint.structured_output": "json_object"}
        )
        p = load_project(project)
        target = Target(server.base_url, server.model, None, "local")
        builder = Requests(p, target, "json_object")
        requests = [builder.request(item)[1:] for item in plan(p, p.generate.n)]

        # The direct loop runs before and after studio: the server's prompt cache and the machine's load
        # then weigh on both sides alike. Each studio run has a run folder (and reply cache) of its own.
        before = direct_loop(server.base_url, server.model, requests)
        by_prompt = Requests.by_prompt
        orders = {"plan-order": ("in the plan's order", lambda self, pending: pending)}
        orders["prompt-order"] = ("in the prompts' order", by_prompt)
        for run, (name, order) in orders.items():
            Requests.by_prompt = order
            t0 = time.perf_counter()
            result = studio.generate(project, run=run, show_progress=False, say=lambda m: None)
            studio_runs[name] = (result, time.perf_counter() - t0)
        Requests.by_prompt = by_prompt
        after = direct_loop(server.base_url, server.model, requests)
    finally:
        llm.stop()
        shutil.rmtree(work, ignore_errors=True)

    direct_tokens, direct_s = before[0] + after[0], before[1] + after[1]
    direct_rate = direct_tokens / direct_s
    lines = [
        f"Last run ({datetime.date.today().isoformat()}, {machine()}): {args.items} items, SmolLM2-135M-Instruct "
        "(Q4_1) on llama.cpp, temperature 0.",
        "",
        "| contender | requests | output tokens | seconds | items/min | accepted/min | tokens/s | share of direct |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (tokens, seconds) in (("direct loop (urllib), before", before), ("direct loop (urllib), after", after)):
        lines.append(
            f"| {name} | {len(requests)} | {tokens:,} | {seconds:.1f} | {len(requests) / seconds * 60:.1f} | "
            f"| {tokens / seconds:.1f} | {tokens / seconds / direct_rate:.0%} |"
        )
    for name, (result, seconds) in studio_runs.items():
        c, tokens = result["counts"], result["tokens"]["out"]
        lines.append(
            f"| studio generate, {name} | {c['requests']} | {tokens:,} | {seconds:.1f} "
            f"| {c['planned'] / seconds * 60:.1f} | {c['accepted'] / seconds * 60:.1f} | {tokens / seconds:.1f} "
            f"| {tokens / seconds / direct_rate:.0%} |"
        )
    lines.append("")
    for name, (result, _) in studio_runs.items():
        c = result["counts"]
        lines.append(
            f"- {name}: {c['accepted']} accepted ({c['first_try']} on the first try, "
            f"{c['repaired']} after a repair), {c['rejected']} rejected"
        )
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_between("local-generate", section)
        print("\n# written to benchmarks/README.md")


if __name__ == "__main__":
    main()
