"""Throughput of `studio generate` against a fixed-latency OpenAI-compatible server on loopback, beside a
bare asyncio loop over the same `openai` client with the same prompts and the same in-flight limit, and
the ideal (in flight / latency), in one run.

    .venv/bin/python benchmarks/generate_throughput.py [--items 2000] [--in-flight 64] [--latency 0.2]
        [--server-ms 2] [--write]

studio runs with all its bookkeeping on: rendering, the SQLite cache, validation, JSONL records, accounting.
The server spends --server-ms of CPU on each request (as a real one does on tokenizing and templates), so
the client's CPU competes with the server's for the cores; both are reported per item.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record import machine, publish  # noqa: E402
from tests.conftest import FakeOpenAI, copy_project  # noqa: E402


def cpu_of(pid: int) -> float:
    """CPU seconds (user and system) the process `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn, server_pid: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds of this process, and CPU seconds of the server."""
    wall, cpu, server = time.perf_counter(), time.process_time(), cpu_of(server_pid)
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu, cpu_of(server_pid) - server


def studio_run(project: Path, run: str) -> None:
    import studio

    result = studio.generate(project, run=run, show_progress=False, say=lambda m: None)
    assert result["counts"]["accepted"] + result["counts"]["rejected"] == result["counts"]["planned"]


def bare_loop(requests: list[tuple[list, dict]], base_url: str, in_flight: int) -> None:
    import openai

    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=60)
        gate = asyncio.Semaphore(in_flight)

        async def one(messages: list, params: dict) -> None:
            async with gate:
                response = await client.chat.completions.create(model="fake", messages=messages, **params)
                assert response.choices[0].message.content

        await asyncio.gather(*(one(m, p) for m, p in requests))
        await client.close()

    asyncio.run(main())


def prompts(project: Path) -> list[tuple[list, dict]]:
    """The very requests studio sends first for each planned item."""
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.target import Target

    p = load_project(project)
    builder = Requests(p, Target("http://x/v1", "fake"), "json_object")
    return [builder.request(item)[1:] for item in plan(p, p.generate.n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--server-ms", type=float, default=2.0, help="server CPU milliseconds per request")
    ap.add_argument("--rounds", type=int, default=2, help="each contender runs this often, alternating; best kept")
    ap.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()

    at_start = machine()
    print(f"# machine: {at_start}")
    server = FakeOpenAI("--latency", str(args.latency), "--work-ms", str(args.server_ms))
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    try:
        project = copy_project(
            work,
            {
                "endpoint.base_url": server.base_url,
                "endpoint.model": "fake",
                "endpoint.structured_output": "json_object",
                "endpoint.concurrency": args.in_flight,
                "endpoint.timeout_s": 60,
                "generate.n": args.items,
            },
        )
        requests = prompts(project)
        best: dict[str, tuple[float, float, float]] = {}
        for r in range(args.rounds):
            for name, fn in [
                ("bare openai loop", lambda: bare_loop(requests, server.base_url, args.in_flight)),
                ("studio generate", lambda r=r: studio_run(project, f"round{r}")),
            ]:
                measured = timed(fn, server.proc.pid)
                if name not in best or measured[0] < best[name][0]:
                    best[name] = measured
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    ideal = args.in_flight / args.latency
    bare = args.items / best["bare openai loop"][0]
    lines = [
        f"Last run ({datetime.date.today().isoformat()}, {at_start}, {os.getloadavg()[0]:.1f} at the end): "
        f"{args.items:,} items, {args.in_flight} in flight, {args.latency * 1000:.0f} ms a reply, "
        f"{args.server_ms:g} ms of server CPU a request; the better of {args.rounds} alternating runs each.",
        "",
        "| contender | items/s | client CPU ms per item | server CPU ms per item | share of the bare loop "
        "| share of the ideal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (wall, cpu, server_cpu) in best.items():
        rate = args.items / wall
        lines.append(
            f"| {name} | {rate:,.0f} | {cpu / args.items * 1000:.2f} | {server_cpu / args.items * 1000:.2f} "
            f"| {rate / bare:.0%} | {rate / ideal:.0%} |"
        )
    lines.append(f"| ideal (in flight / latency) | {ideal:,.0f} |  |  |  | 100% |")
    publish("generate-throughput", "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
