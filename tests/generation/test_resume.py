"""kill -9 at random points, then resume: exactly the planned items, no corrupt line, no paid work lost
beyond the replies that were on the wire at the moment of a kill."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import studio
from studio.records import read_records
from studio.runs import Run
from tests.conftest import ROOT
from tests.generation.test_faults import fake_project

CONCURRENCY = 8


def start_generate(project: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "studio", "generate", "--project", str(project), "--no-progress"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_at_random_points_then_resume(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--latency", "0.03", "--fault-rate", "0.1", "--faults", "500,not_json,schema_violation")
    project = fake_project(tmp_path, server, generate__n=300, endpoint__concurrency=CONCURRENCY)
    run = Run(tmp_path / "outputs/penguin-wood/default")
    rng = random.Random(1)
    kills = 0
    for _ in range(4):
        sent = server.stats()["requests"]
        proc = start_generate(project)
        # Kill once it has asked for something new (import time varies), at a random moment after that.
        deadline = time.monotonic() + 60
        while server.stats()["requests"] == sent and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.05, 0.6))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # Whatever the moment, the committed files are whole, and a killed stage is never taken as done.
        for key in ("generated", "rejected"):
            if run.file(key).exists():
                read_records(run.file(key))
        if kills and proc.returncode == -signal.SIGKILL:
            assert not run.stage("generate")["complete"]
    assert kills >= 3, "the runs finished before they could be killed: raise n"

    result = studio.generate(project, show_progress=False)
    assert result["complete"]
    planned = [i["id"] for i in json.loads(run.file("plan").read_text())["items"]]
    records = read_records(run.file("generated")) + read_records(run.file("rejected"))  # a corrupt line raises
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids)) == 300 and set(ids) == set(planned)

    answered = server.stats()["answered"]
    asked_again = sum(n - 1 for n in answered.values())
    # A reply committed to the cache is never asked again; a reply still on the wire when the process died
    # is lost with it, at most one per request in flight.
    assert asked_again <= kills * CONCURRENCY, (asked_again, kills)
