"""`studio generate` on the bundled model: items and accepted items per minute on llama.cpp's llama-server (what
studio runs) and on llama-cpp-python's server (what it ran until 2026-12-02, when that package is installed),
beside the same requests sent straight to llama-server by a minimal loop, in one run.

    .venv/bin/python benchmarks/local_generate.py [--items 30] [--no-write]

Both servers get studio's requests one at a time, in the prompts' order, with the project's sampling
(temperature 0.7, seed 7) and the same repeat penalty (1.1, llama-cpp-python's server default, which studio
passes to llama-server). "Accepted" counts the items that passed the schema check in generation and, in
the last column, those that also passed the quality gate (`studio validate`). The direct loop sends studio's
rendered first requests with urllib before and after studio: output tokens per second of wall time is the
overhead figure, as the server serves one request at a time. The table goes into benchmarks/README.md
between this script's markers.

llama-cpp-python's server, for the before column: `CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
.venv/bin/pip install "llama-cpp-python[server]==0.3.36"` (a build of about 4 minutes).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
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

from benchmarks.record import machine, publish  # noqa: E402
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


def llama_cpp_python_server(work: Path) -> tuple[object, str]:
    """llama-cpp-python's server on the bundled model, as studio started it before: (process, base_url)."""
    from studio import paths, procs

    port = procs.free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(paths.bundled_gguf())]
    cmd += ["--model_alias", "m", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(os.cpu_count())]
    proc = procs.spawn(cmd, work / "llama-cpp-python.log")
    base_url = f"http://127.0.0.1:{port}/v1"
    while not procs.answers(f"{base_url}/models", timeout=0.5):
        if proc.poll() is not None:
            raise SystemExit(f"llama-cpp-python's server did not start: {work / 'llama-cpp-python.log'}")
        time.sleep(0.2)
    return proc, base_url


def studio_generate(project: Path, run: str) -> tuple[dict, float, int]:
    """A run's result, its seconds, and how many of its items passed the quality gate."""
    import studio

    t0 = time.perf_counter()
    result = studio.generate(project, run=run, show_progress=False, say=lambda m: None)
    seconds = time.perf_counter() - t0
    gate = studio.validate(project, run=run)
    return result, seconds, gate["counts"]["valid"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/README.md as it is")
    args = ap.parse_args()

    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.serve import llm
    from studio.target import Target

    print(f"# machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ["STUDIO_HOME"] = str(work / "home")
    runs: dict[str, tuple[dict, float, int]] = {}
    try:
        server, _ = llm.serve(port=0)
        project = copy_project(work, {"generate.n": args.items})
        p = load_project(project)
        builder = Requests(p, Target(server.base_url, server.model, None, "local"), "json_schema")
        pending = builder.by_prompt([(item, 0) for item in plan(p, p.generate.n)])
        requests = [builder.request(*item)[1:] for item in pending]

        # The direct loop runs before and after studio, so the machine's load weighs on both sides alike.
        before = direct_loop(server.base_url, server.model, requests)
        runs["llama-server"] = studio_generate(project, "llama-server")
        after = direct_loop(server.base_url, server.model, requests)
        llm.stop()
        if importlib.util.find_spec("llama_cpp"):
            proc, base_url = llama_cpp_python_server(work)
            try:
                old = copy_project(
                    work / "old",
                    {"generate.n": args.items, "endpoint.base_url": base_url, "endpoint.model": "m"}
                    | {"endpoint.concurrency": 1},
                )
                runs["llama-cpp-python's server"] = studio_generate(old, "llama-cpp-python")
            finally:
                proc.kill()
    finally:
        llm.stop()
        shutil.rmtree(work, ignore_errors=True)

    direct_rate = (before[0] + after[0]) / (before[1] + after[1])
    lines = [
        f"Last run ({datetime.date.today().isoformat()}, {machine()}): {args.items} items, SmolLM2-135M-Instruct "
        "(Q4_1), the project's sampling.",
        "",
        "| contender | requests | output tokens | seconds | items/min | accepted/min | tokens/s | share of direct "
        "| passed the gate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (tokens, seconds) in (("direct loop on llama-server, before", before), ("the same, after", after)):
        lines.append(
            f"| {name} | {len(requests)} | {tokens:,} | {seconds:.1f} | {len(requests) / seconds * 60:.1f} | "
            f"| {tokens / seconds:.1f} | {tokens / seconds / direct_rate:.0%} | |"
        )
    for name, (result, seconds, passed) in runs.items():
        c, tokens = result["counts"], result["tokens"]["out"]
        lines.append(
            f"| studio generate on {name} | {c['requests']} | {tokens:,} | {seconds:.1f} "
            f"| {c['planned'] / seconds * 60:.1f} | {c['accepted'] / seconds * 60:.1f} | {tokens / seconds:.1f} "
            f"| {tokens / seconds / direct_rate:.0%} | {passed} of {c['accepted']} |"
        )
    if len(runs) == 2:
        (new, new_s, _), (old, old_s, _) = runs.values()
        lines += [
            "",
            f"llama-server against llama-cpp-python's server: {old_s / new_s:.2f}x the items per minute, "
            f"{new['counts']['accepted'] / new_s / (old['counts']['accepted'] / old_s):.2f}x the accepted items "
            "per minute.",
        ]
    publish("local-generate", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
