"""train.backend openai: `studio run` tunes through OpenAI's fine-tuning API and evaluates base and tuned
through the chat API, against tests/openai_server.py's files and fine-tuning jobs endpoints (a real HTTP server
on 127.0.0.1 that answers 429s, fails jobs and runs slow ones on purpose)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from studio.runs import Run
from tests.conftest import ROOT, run_studio
from tests.e2e.test_joins import STOPPED, project

BASE = "gpt-4o-mini-2024-07-18"


def openai_project(tmp_path: Path, server, **changes: object) -> Path:
    settings: dict[str, object] = {
        "generate__n": 40,
        "train__backend": "openai",
        "train__base_model": BASE,
        "train__openai__poll_s": 0.02,
        "train__openai__suffix": "penguin",
        "train__splits__test": 0.2,
        # The test server's items are word lists, near copies of each other: none would stay in test.
        "train__splits__decontaminate": None,
    }
    return project(tmp_path, server.base_url, **{**settings, **changes})


def uploaded(server, file_id: str) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v1/files/{file_id}/content", timeout=10) as r:
        return [json.loads(line) for line in r.read().decode().splitlines()]


def split_rows(run: Run, name: str) -> list[dict]:
    path = run.file("splits") / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_studio_run_tunes_through_the_api_and_scores_base_and_tuned_on_the_test_split(
    tmp_path: Path, fake_openai
) -> None:
    server = fake_openai("--ft-steps", "3", "--ft-429-rate", "0.3", "--record", "--seed", "3")
    file = openai_project(tmp_path, server)
    run = Run(tmp_path / "outputs/penguin-wood/default")
    done = run_studio("run", "--project", str(file), "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    stats = server.stats()
    assert stats["fine_tuning_429"] > 0  # rate limits met on the way, and waited out

    # One job, made from the training and validation splits, that succeeded.
    [job] = stats["fine_tuning_jobs"]
    assert job["status"] == "succeeded" and job["model"] == BASE
    assert job["fine_tuned_model"].startswith(f"ft:{BASE}:studio-test:penguin:")
    train, validation = split_rows(run, "train"), split_rows(run, "validation")
    sent = uploaded(server, job["training_file"])
    assert len(sent) == len(train) >= 10
    assert [m["role"] for m in sent[0]["messages"]] == ["system", "user", "assistant"]
    assert len(uploaded(server, job["validation_file"])) == len(validation) > 0
    # What went up is what studio tune would learn: each training item's text is an assistant turn.
    texts = {m["content"] for line in sent for m in line["messages"] if m["role"] == "assistant"}
    assert texts == {r["data"]["text"] if "question" not in r["data"] else r["data"]["answer"] for r in train}

    # The run knows the tuned model, and the card names it without the endpoint or this machine's paths.
    tune = json.loads(run.manifest_path.read_text())["stages"]["tune"]
    assert tune["backend"] == "openai" and tune["job"] == job["id"]
    recorded = json.loads((run.file("model") / "tuned_model.json").read_text())
    assert recorded["fine_tuned_model"] == job["fine_tuned_model"]
    assert tune["losses"]["train"] and len(tune["losses"]["train"]) == 3  # the job's metrics events, every step
    card = (run.file("model") / "README.md").read_text()
    assert f'model="{job["fine_tuned_model"]}"' in card  # how to call it
    assert "127.0.0.1" not in card and str(tmp_path) not in card

    # Eval asked the base model (zero-shot and few-shot) and the tuned one about every test item.
    result = json.loads(run.file("eval").read_text())
    test = split_rows(run, "test")
    assert result["test_items"] == len(test) > 0 and result["model"] == job["fine_tuned_model"]
    chats = [c for c in stats["chats"] if c.get("max_tokens") and "response_format" not in c]
    asked = [c["model"] for c in chats]
    # Test items of the same prompt (rendered from the same axis values) are one request: asked once.
    prompts = len({s["prompt"] for s in result["generation"]["samples"]})
    assert len(result["generation"]["samples"]) == len(test)
    assert asked.count(job["fine_tuned_model"]) == prompts and asked.count(BASE) == 2 * prompts
    few_shot = [c for c in chats if c["model"] == BASE and len(c["messages"]) > 2]
    assert len(few_shot) == prompts  # the few-shot base saw training examples as earlier turns
    # The tuned model answers from what it was tuned on, so its answers are nearer the test items' than its base's.
    scores = result["generation"]["scores"]
    assert scores["tuned"]["rouge_l"] > scores["base"]["rouge_l"]
    assert "held-out ROUGE-L" in result["verdict"] and "perplexity" not in result
    assert run.file("report").exists()

    # Nothing is asked twice: a second run skips every stage, and the job is not made again.
    again = run_studio("run", "--project", str(file), "--no-progress")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(server.stats()["fine_tuning_jobs"]) == 1


def kill_when(file: Path, log: Path, done: Callable[[], bool]) -> None:
    """`studio run` until `done()`, then kill -9 (its whole process group)."""
    with open(log, "w") as out:
        first = subprocess.Popen(
            [sys.executable, "-m", "studio", "run", "--project", str(file), "--no-progress"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while not done() and time.monotonic() < deadline:
        assert first.poll() is None, log.read_text()[-2000:]
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()


def test_a_run_killed_while_its_job_runs_follows_the_same_job(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--ft-steps", "300")
    file = openai_project(tmp_path, server)
    log = tmp_path / "first.log"
    kill_when(file, log, lambda: "Fine-tuning job started" in log.read_text())
    [job] = server.stats()["fine_tuning_jobs"]
    assert job["status"] == "running"

    second = run_studio("run", "--project", str(file), "--no-progress")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"following fine-tuning job {job['id']}, created by an earlier run" in second.stderr
    stats = server.stats()
    assert [j["id"] for j in stats["fine_tuning_jobs"]] == [job["id"]]  # no second job
    assert stats["fine_tuning_jobs"][0]["status"] == "succeeded"
    assert stats["files"] == 2  # the training and validation files, uploaded once


def test_a_run_killed_before_the_create_request_was_answered_finds_its_job(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--ft-create-delay", "30")
    file = openai_project(tmp_path, server)
    kill_when(file, tmp_path / "first.log", lambda: bool(server.stats()["fine_tuning_jobs"]))
    [job] = server.stats()["fine_tuning_jobs"]  # made at the provider, its id never received

    second = run_studio("run", "--project", str(file), "--no-progress")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"found fine-tuning job {job['id']}, created from these files" in second.stderr
    assert [j["id"] for j in server.stats()["fine_tuning_jobs"]] == [job["id"]]


def test_a_failed_job_stops_the_run_with_its_reason_and_the_next_run_makes_a_new_one(
    tmp_path: Path, fake_openai
) -> None:
    server = fake_openai("--ft-steps", "4", "--ft-outcomes", "failed,succeeded")
    file = openai_project(tmp_path, server)
    run = Run(tmp_path / "outputs/penguin-wood/default")
    stopped = run_studio("run", "--project", str(file), "--no-progress")
    assert stopped.returncode == STOPPED, stopped.stderr[-3000:]
    [failed] = server.stats()["fine_tuning_jobs"]
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(f"studio: tune stopped: fine-tuning job {failed['id']} failed: ")
    assert "The job failed due to an internal error." in last and "Traceback" not in stopped.stderr
    assert not run.file("model").exists() and not run.file("eval").exists()

    again = run_studio("run", "--project", str(file), "--no-progress")
    assert again.returncode == 0, again.stderr[-3000:]
    jobs = server.stats()["fine_tuning_jobs"]
    assert [j["status"] for j in jobs] == ["failed", "succeeded"]
    tune = json.loads(run.manifest_path.read_text())["stages"]["tune"]
    assert tune["job"] == jobs[1]["id"] and tune["failed_jobs"] == [failed["id"]]
    assert run.file("eval").exists()


def test_a_model_the_api_cannot_tune_is_one_line_naming_the_key(tmp_path: Path, fake_openai) -> None:
    server = fake_openai()
    file = openai_project(tmp_path, server, train__base_model="gpt-nonexistent")
    refused = run_studio("run", "--project", str(file), "--no-progress")
    assert refused.returncode == 2, refused.stderr[-2000:]
    last = refused.stderr.strip().splitlines()[-1]
    assert last == (
        "studio: error: train.openai: the fine-tuning API refused: HTTP 400: Model gpt-nonexistent is not "
        "available for fine-tuning or does not exist."
    )
    assert server.stats()["fine_tuning_jobs"] == []
