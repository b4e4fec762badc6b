"""Tokens/s of `studio generate` on the local llama.cpp server (bundled model) beside the same requests sent
straight to the server by a minimal loop, in one run.

    .venv/bin/python benchmarks/local_generate.py [--items 20]

Both send the same first requests (studio's rendered prompts, temperature 0); studio also does its
bookkeeping and any repair requests. The share is against the direct loop run before and after studio.
Output tokens per second of wall time is the figure that matters: the server serves one request at a
time, so anything studio adds shows up as idle server time.
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--items", type=int, default=20)
    args = ap.parse_args()

    import studio
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.serve import llm
    from studio.target import Target

    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ["STUDIO_HOME"] = str(work / "home")
    server, _ = llm.serve(port=0)
    try:
        project = copy_project(
            work, {"generate.n": args.items, "sampling.temperature": 0, "endpoint.structured_output": "json_object"}
        )
        p = load_project(project)
        target = Target(server.base_url, server.model, None, "local")
        builder = Requests(p, target, "json_object")
        requests = [builder.request(item)[1:] for item in plan(p, p.generate.n)]

        # The direct loop runs before and after studio: the server's prompt cache and the machine's load
        # then weigh on both sides alike.
        before = direct_loop(server.base_url, server.model, requests)
        t0 = time.perf_counter()
        result = studio.generate(project, show_progress=False, say=lambda m: None)
        studio_s = time.perf_counter() - t0
        after = direct_loop(server.base_url, server.model, requests)
        studio_tokens = result["tokens"]["out"]
        c = result["counts"]
    finally:
        llm.stop()
        shutil.rmtree(work, ignore_errors=True)

    direct_tokens, direct_s = before[0] + after[0], before[1] + after[1]
    direct_rate, studio_rate = direct_tokens / direct_s, studio_tokens / studio_s
    print(
        f"{args.items} items, SmolLM2-135M-Instruct (Q4_1) on llama.cpp, temperature 0; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print()
    print("| contender | requests | output tokens | seconds | tokens/s | share of direct |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (tokens, seconds) in (("direct loop (urllib), before", before), ("direct loop (urllib), after", after)):
        print(
            f"| {name} | {len(requests)} | {tokens:,} | {seconds:.1f} | {tokens / seconds:.1f} "
            f"| {tokens / seconds / direct_rate:.0%} |"
        )
    print(
        f"| studio generate | {c['requests']} | {studio_tokens:,} | {studio_s:.1f} | {studio_rate:.1f} "
        f"| {studio_rate / direct_rate:.0%} |"
    )
    print()
    print(
        f"studio: {c['accepted']} accepted ({c['first_try']} first try, {c['repaired']} after repair), "
        f"{c['rejected']} rejected"
    )


if __name__ == "__main__":
    main()
