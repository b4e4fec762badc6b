"""The Batch API mode never pays twice: chunks within the API's limits, a run killed at any step finds its
batch again, and failed or expired batches keep what they answered and hand the rest to the next run.
Against tests/openai_server.py's files and batches endpoints, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import studio
from studio.errors import StudioError
from tests.generation.test_faults import fake_project, outcome
from tests.generation.test_resume import start_generate

FAST = {"endpoint__batch": True, "endpoint__batch_poll_s": 0.05}
# Slow polling for a run that is to be killed: it is surely still waiting on its batch when the kill comes.
SLOW = {"endpoint__batch": True, "endpoint__batch_poll_s": 5.0}


def batch_server(fake_openai, *flags: str):
    return fake_openai("--modes", "json_object", *flags)


def kill_after(proc, text: str) -> list[str]:
    """Read the run's stderr until a line holds `text`, then kill -9 it. Returns the lines read."""
    lines: list[str] = []
    while not lines or text not in lines[-1]:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, f"the run ended before it said {text!r}: {lines}"
        lines.append(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return lines


def generate_here(tmp_path: Path, server, **changes: object) -> tuple[dict, list[str]]:
    """Generate again in this process, with fast polling; returns the result and what the batch code said."""
    said: list[str] = []
    result = studio.generate(
        fake_project(tmp_path, server, **{**FAST, **changes}), show_progress=False, say=said.append
    )
    return result, said


def test_the_batch_api_mode_generates_every_item(tmp_path: Path, fake_openai) -> None:
    server = batch_server(fake_openai)
    project = fake_project(tmp_path, server, generate__n=20, **FAST)
    result = studio.generate(project, show_progress=False)
    _, accepted, rejected, planned = outcome(result)
    assert sorted(r.id for r in accepted + rejected) == sorted(planned)
    assert len(accepted) == 20
    stats = server.stats()
    assert stats["batches"] == 1 and stats["files"] == 1 and stats["requests"] == 20


def test_requests_are_split_into_batches_within_the_limits(tmp_path: Path, fake_openai) -> None:
    server = batch_server(fake_openai, "--batch-max-requests", "5")
    # Past the endpoint's limit, the batch is refused with its 400, and nothing is created.
    with pytest.raises(StudioError, match="more than the maximum of 5 requests per batch"):
        studio.generate(fake_project(tmp_path, server, generate__n=12, **FAST), show_progress=False)
    assert server.stats()["batches"] == 0

    # Within it, in chunks; the refused chunk was forgotten, so its requests are in the new ones.
    result = studio.generate(
        fake_project(tmp_path, server, generate__n=12, endpoint__batch_max_requests=5, **FAST), show_progress=False
    )
    _, accepted, rejected, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned) and not rejected
    assert server.stats()["batch_sizes"] == [5, 5, 2]


def test_batch_files_stay_under_the_byte_limit(tmp_path: Path, fake_openai) -> None:
    # About three requests' worth of bytes (a request of this project is 2-3 kB), refused above it.
    limit = "8000"
    server = batch_server(fake_openai, "--batch-max-bytes", limit)
    result = studio.generate(
        fake_project(tmp_path, server, generate__n=10, endpoint__batch_max_bytes=int(limit), **FAST),
        show_progress=False,
    )
    _, accepted, _, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned)
    sizes = server.stats()["batch_sizes"]
    assert len(sizes) >= 3 and sum(sizes) == 10, sizes


def test_a_run_killed_after_the_upload_creates_its_batch_from_the_same_file(tmp_path: Path, fake_openai) -> None:
    # The create request waits on the server, so the kill surely comes before any batch exists.
    server = batch_server(fake_openai, "--batch-create-stall", "3")
    project = fake_project(tmp_path, server, generate__n=12, endpoint__timeout_s=10, **SLOW)
    kill_after(start_generate(project), "uploaded ")
    assert server.stats()["batches"] == 0

    result, said = generate_here(tmp_path, server, generate__n=12, endpoint__timeout_s=10)
    _, accepted, _, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned)
    stats = server.stats()
    assert stats["files"] == 1, "the file was uploaded again"
    assert stats["batches"] == 1 and stats["batch_sizes"] == [12]
    assert any("submitted batch" in m for m in said) and not any("found batch" in m for m in said)


def test_a_run_killed_while_create_is_in_flight_finds_its_batch(tmp_path: Path, fake_openai) -> None:
    # The batch is created at once and answered 5 s later: the killed run never learns its id.
    server = batch_server(fake_openai, "--batch-create-delay", "5")
    project = fake_project(tmp_path, server, generate__n=12, endpoint__timeout_s=10, **SLOW)
    proc = start_generate(project)
    try:
        lines: list[str] = []
        while not lines or "uploaded " not in lines[-1]:
            lines.append(proc.stderr.readline())
            assert lines[-1] or proc.poll() is None, lines
        deadline = time.monotonic() + 10
        while server.stats()["batches"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert proc.poll() is None, "the create was answered before the kill"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    result, said = generate_here(tmp_path, server, generate__n=12, endpoint__timeout_s=10)
    _, accepted, _, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned)
    stats = server.stats()
    assert stats["batches"] == 1, "a second batch was created for the same chunk"
    assert stats["files"] == 1
    assert any("found batch batch_000000" in m for m in said), said


def test_a_create_whose_answer_times_out_is_not_created_twice(tmp_path: Path, fake_openai) -> None:
    # The client gives up on the create after 1 s; the batch exists all the same.
    server = batch_server(fake_openai, "--batch-create-delay", "3")
    result, _ = generate_here(tmp_path, server, generate__n=6, endpoint__timeout_s=1.0)
    _, accepted, _, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned)
    assert server.stats()["batches"] == 1


def test_a_killed_batch_run_polls_the_same_batch_again(tmp_path: Path, fake_openai) -> None:
    server = batch_server(fake_openai)
    project = fake_project(tmp_path, server, generate__n=12, **SLOW)
    kill_after(start_generate(project), "submitted batch")

    result, said = generate_here(tmp_path, server, generate__n=12)
    _, accepted, _, _ = outcome(result)
    assert len(accepted) == 12
    assert server.stats()["batches"] == 1  # resumed by its id, not submitted again
    assert any("still open" in m for m in said), said


def test_a_changed_plan_polls_the_open_batch_and_submits_only_the_new_requests(tmp_path: Path, fake_openai) -> None:
    server = batch_server(fake_openai)
    kill_after(start_generate(fake_project(tmp_path, server, generate__n=8, **SLOW)), "submitted batch")

    # More items now: the open batch of 8 is polled, and a new chunk holds only the 4 new requests.
    result, _ = generate_here(tmp_path, server, generate__n=12)
    _, accepted, _, planned = outcome(result)
    assert sorted(r.id for r in accepted) == sorted(planned) and len(planned) == 12
    stats = server.stats()
    assert stats["batch_sizes"] == [8, 4]
    assert max(stats["answered"].values()) == 1  # no request answered twice


def test_an_expired_batch_keeps_its_answers_and_the_next_run_asks_only_the_rest(tmp_path: Path, fake_openai) -> None:
    # The first batch expires with half its requests answered; the next one completes.
    server = batch_server(fake_openai, "--batch-outcomes", "expired,completed")
    first, _ = generate_here(tmp_path, server, generate__n=12)
    _, accepted, rejected, _ = outcome(first)
    assert first["counts"]["accepted"] == len(accepted) == 6
    assert first["counts"]["rejected"] == len(rejected) == 6
    for record in rejected:
        assert record.meta["rejected"]["retryable"]
        assert record.meta["rejected"]["reason"] == "batch batch_000000 expired before this request was answered"

    second, _ = generate_here(tmp_path, server, generate__n=12)
    _, accepted, rejected, planned = outcome(second)
    assert sorted(r.id for r in accepted) == sorted(planned) and not rejected
    stats = server.stats()
    assert stats["batch_sizes"] == [12, 6]  # only the unanswered half again
    assert max(stats["answered"].values()) == 1


def test_a_failed_batch_rejects_its_items_as_retryable_and_the_next_run_completes(tmp_path: Path, fake_openai) -> None:
    server = batch_server(fake_openai, "--batch-outcomes", "failed,completed")
    first, _ = generate_here(tmp_path, server, generate__n=6)
    _, accepted, rejected, _ = outcome(first)
    assert not accepted and len(rejected) == first["counts"]["rejected"] == 6
    for record in rejected:
        assert record.meta["rejected"]["retryable"]
        assert record.meta["rejected"]["reason"].startswith("batch batch_000000 failed: Enqueued token limit reached")

    second, _ = generate_here(tmp_path, server, generate__n=6)
    _, accepted, rejected, planned = outcome(second)
    assert sorted(r.id for r in accepted) == sorted(planned) and not rejected
    assert server.stats()["batch_sizes"] == [6, 6]


def test_requests_a_partial_batch_failed_are_asked_again(tmp_path: Path, fake_openai) -> None:
    # Completed, but every second request failed with a 500 (in the error file).
    server = batch_server(fake_openai, "--batch-outcomes", "partial,completed")
    first, _ = generate_here(tmp_path, server, generate__n=6)
    _, accepted, rejected, _ = outcome(first)
    assert len(accepted) == 3 and len(rejected) == 3
    assert all(
        r.meta["rejected"]["retryable"]
        and r.meta["rejected"]["reason"]
        == "batch batch_000000: HTTP 500: The server had an error processing your request."
        for r in rejected
    )
    second, _ = generate_here(tmp_path, server, generate__n=6)
    _, accepted, rejected, planned = outcome(second)
    assert sorted(r.id for r in accepted) == sorted(planned) and not rejected
    assert server.stats()["batch_sizes"] == [6, 3]
