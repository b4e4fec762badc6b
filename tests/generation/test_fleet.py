"""Generation over several endpoints of one model (`endpoint.base_url` as a list): requests spread by free room,
an endpoint killed mid-run taken out while the others finish, a server that queues given fewer requests. Real
HTTP servers on 127.0.0.1 (tests/openai_server.py), each in its own process."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import studio
from studio.records import read_records
from studio.runs import Run
from tests.generation.test_faults import fake_project


def fleet_project(tmp_path: Path, servers: list, **changes: object) -> Path:
    urls = [s.base_url for s in servers]
    settings = {"endpoint__timeout_s": 2.0, "endpoint__concurrency": 4, "generate__n": 90, **changes}
    return fake_project(tmp_path, servers[0], endpoint__base_url=urls, **settings)


def test_a_server_killed_mid_run_is_taken_out_and_every_item_is_accounted_for(tmp_path: Path, fake_openai) -> None:
    servers = [fake_openai("--latency", "0.05") for _ in range(3)]
    victim = servers[1]
    killed = threading.Event()

    def kill_when_busy() -> None:
        while victim.stats()["requests"] < 10:
            time.sleep(0.02)
        victim.stop()  # SIGKILL: its connections drop, in-flight requests with them
        killed.set()

    threading.Thread(target=kill_when_busy, daemon=True).start()
    said: list[str] = []
    result = studio.generate(fleet_project(tmp_path, servers), show_progress=False, say=said.append)
    assert killed.is_set()

    run = Run(result["run_dir"])
    planned = {i["id"] for i in json.loads(run.file("plan").read_text())["items"]}
    accepted, rejected = read_records(run.file("generated")), read_records(run.file("rejected"))
    assert {r.id for r in accepted} == planned and not rejected  # every item made, none lost to the dead server
    fleet = result["fleet"]
    name = victim.base_url
    assert fleet[name]["taken_out"] >= 1 and fleet[name]["failures"] >= 1
    assert any(f"endpoint {name} failed" in line and "taken out" in line for line in said), said
    live = [s.stats() for s in (servers[0], servers[2])]
    assert sum(sum(s["answered"].values()) for s in live) >= len(planned) - 10  # the rest went to the others
    assert all(max(s["answered"].values()) == 1 for s in live)  # no answered request sent twice


def test_a_server_that_queues_is_sent_fewer_requests_at_a_time(tmp_path: Path, fake_openai) -> None:
    """No 429 from either: one serves a request at a time and queues the rest, as llama-server with one slot
    does, the other serves eight at once. The queueing one's replies slow down per token, so its limit comes
    down: requests wait in studio, for whichever server has room, instead of in its queue."""
    queueing = fake_openai("--latency", "0.05", "--slots", "1")
    roomy = fake_openai("--latency", "0.05", "--slots", "8")
    result = studio.generate(
        fleet_project(tmp_path, [queueing, roomy], endpoint__concurrency=8, generate__n=200), show_progress=False
    )
    assert result["counts"]["made"] == 200
    series = queueing.stats()["in_flight"]["series"]  # [time, requests it holds] at every change
    held = sorted(n for _, n in series[len(series) // 2 :])  # the second half of the run
    # Watching only the room, it held its whole limit of 8 all along (7 of them queued).
    assert held[len(held) // 2] <= 4, held[len(held) // 2]
    served = {s.base_url: s.stats()["requests"] for s in (queueing, roomy)}
    assert served[roomy.base_url] > served[queueing.base_url], served
