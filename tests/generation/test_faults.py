"""Generation you can trust: faults, retries, timeouts, budgets, resume, batches, against a real HTTP
server on 127.0.0.1 that misbehaves on purpose (tests/openai_server.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import studio
from studio.records import read_records
from studio.runs import Run
from studio.schema import DomainSchema
from tests.conftest import ROOT, copy_project, run_studio

SCHEMA = DomainSchema.load(ROOT / "schemas/penguin_wood.json")


def fake_project(tmp_path: Path, server, **changes: object) -> Path:
    settings = {
        "endpoint.base_url": server.base_url,
        "endpoint.model": "fake",
        "endpoint.structured_output": "json_object",
        "endpoint.timeout_s": 1.0,
        "endpoint.max_attempts": 4,
        "endpoint.concurrency": 16,
        "generate.n": 40,
    }
    settings.update({k.replace("__", "."): v for k, v in changes.items()})
    return copy_project(tmp_path, settings)


def outcome(result: dict) -> tuple[Run, list, list, list[str]]:
    run = Run(result["run_dir"])
    planned = [i["id"] for i in json.loads(run.file("plan").read_text())["items"]]
    return run, read_records(run.file("generated")), read_records(run.file("rejected")), planned


def test_200_items_at_a_30_percent_fault_rate_all_end_accepted_or_rejected(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--fault-rate", "0.3", "--slow-s", "3", "--retry-after", "0.2", "--latency", "0.01")
    project = fake_project(tmp_path, server, generate__n=200)
    result = studio.generate(project, show_progress=False)
    run, accepted, rejected, planned = outcome(result)

    ids = [r.id for r in accepted + rejected]
    assert len(ids) == len(set(ids)) == 200  # none twice
    assert set(ids) == set(planned)  # none lost
    assert all(SCHEMA.first_error(r.data) is None for r in accepted)
    assert all(r.meta["rejected"]["reason"] for r in rejected)
    assert len(accepted) >= 170, Counter(r.meta["rejected"]["reason"][:40] for r in rejected)

    stats = server.stats()
    # Every kind of fault happened, and the client saw them as such.
    assert set(stats["injected"]) == {
        "429",
        "500",
        "slow",
        "drop",
        "truncated_body",
        "not_json",
        "schema_violation",
        "length",
    }
    client = result["client"]
    assert client["throttled"] and client["server_errors"] and client["timeouts"] and client["retries"]
    assert client["connection_errors"] + client["malformed"] > 0
    assert sum(1 for r in accepted if r.meta["repaired"]) > 0  # content faults went through repair
    # No answered request was ever sent again.
    assert max(stats["answered"].values()) == 1


def test_items_without_a_reply_are_tried_again_on_the_next_run(tmp_path: Path, fake_openai) -> None:
    refusing = fake_openai("--fault-rate", "1", "--faults", "429", "--retry-after", "0.3")
    project = fake_project(tmp_path, refusing, generate__n=4, endpoint__max_attempts=3, endpoint__concurrency=1)
    t0 = time.monotonic()
    result = studio.generate(project, show_progress=False)
    elapsed = time.monotonic() - t0
    _, accepted, rejected, _ = outcome(result)
    assert not accepted and len(rejected) == 4
    assert all(
        r.meta["rejected"]["reason"].startswith("gave up after 3 attempts; last error: HTTP 429") for r in rejected
    )
    assert all(r.meta["rejected"]["retryable"] for r in rejected)
    # Retry-After was honoured: two waits of 0.3 s per item, one item at a time.
    assert elapsed >= 4 * 2 * 0.3

    healthy = fake_openai()
    again = studio.generate(project, base_url=healthy.base_url, show_progress=False)
    _, accepted, rejected, planned = outcome(again)
    assert sorted(r.id for r in accepted) == sorted(planned) and not rejected


def test_a_slow_server_never_hangs_the_run(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--fault-rate", "1", "--faults", "slow", "--slow-s", "30")
    project = fake_project(tmp_path, server, generate__n=3, endpoint__timeout_s=0.3, endpoint__max_attempts=2)
    t0 = time.monotonic()
    result = studio.generate(project, show_progress=False)
    assert time.monotonic() - t0 < 10
    _, accepted, rejected, _ = outcome(result)
    assert not accepted and len(rejected) == 3
    assert all("timed out after 0.3 s" in r.meta["rejected"]["reason"] for r in rejected)


def test_structured_output_is_negotiated_per_endpoint(tmp_path: Path, fake_openai) -> None:
    for modes, expected in [
        ("json_schema,json_object,text", "json_schema"),
        ("json_object,text", "json_object"),
        ("text", "text"),
    ]:
        server = fake_openai("--modes", modes)
        project = fake_project(tmp_path / expected, server, generate__n=3, endpoint__structured_output="auto")
        result = studio.generate(project, show_progress=False)
        assert result["structured_output"] == expected
        _, accepted, _, _ = outcome(result)
        assert all(r.meta["structured_output"] == expected for r in accepted)
    # json_schema (strict) replies carry nulls for optional fields; they are valid once dropped.
    run, accepted, rejected, _ = outcome(
        studio.generate(
            fake_project(
                tmp_path / "strict",
                fake_openai("--modes", "json_schema"),
                generate__n=10,
                endpoint__structured_output="json_schema",
            ),
            show_progress=False,
        )
    )
    assert len(accepted) == 10 and not rejected


def test_a_budget_stops_the_run_and_a_larger_one_continues(tmp_path: Path, fake_openai) -> None:
    server = fake_openai()
    project = fake_project(tmp_path, server, generate__n=30, budget__tokens=6000, endpoint__concurrency=4)
    first = studio.generate(project, show_progress=False)
    assert first["stopped"] == "token budget of 6,000 reached" and not first["complete"]
    assert first["tokens"]["in"] + first["tokens"]["out"] <= 6000
    done_first = first["counts"]["accepted"] + first["counts"]["rejected"]
    assert 0 < done_first < 30

    bigger = fake_project(tmp_path, server, generate__n=30, budget__tokens=10**6)
    second = studio.generate(bigger, show_progress=False)
    _, accepted, rejected, planned = outcome(second)
    assert second["complete"] and second["counts"]["done_before"] == done_first
    assert sorted(r.id for r in accepted + rejected) == sorted(planned)
    assert max(server.stats()["answered"].values()) == 1


def test_a_changed_template_remakes_only_the_items_it_renders(tmp_path: Path, fake_openai) -> None:
    server = fake_openai()
    project = fake_project(tmp_path, server, generate__n=30)
    first = studio.generate(project, show_progress=False)
    kinds = Counter(r.meta["axes"]["kind"] for r in outcome(first)[1])
    qa = tmp_path / "prompts/penguin-wood/qa.user.j2"
    qa.write_text(qa.read_text() + "\nKeep the answer short.\n")
    second = studio.generate(project, show_progress=False)
    assert second["counts"]["stale"] == kinds["qa"] > 0
    assert second["counts"]["requests"] == kinds["qa"]
    _, accepted, rejected, planned = outcome(second)
    assert sorted(r.id for r in accepted + rejected) == sorted(planned)


def test_dry_run_prints_the_plan_and_sends_nothing(tmp_path: Path, fake_openai) -> None:
    server = fake_openai()
    project = fake_project(tmp_path, server, generate__n=25, prices={"fake": {"input": 1.0, "output": 2.0}})
    result = run_studio("generate", "--project", str(project), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "requests to send                25" in result.stdout
    assert "cost at most" in result.stdout and "$" in result.stdout
    assert server.stats()["requests"] == 0


def test_the_batch_api_mode_generates_every_item(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--modes", "json_object")
    project = fake_project(tmp_path, server, generate__n=20, endpoint__batch=True, endpoint__batch_poll_s=0.05)
    result = studio.generate(project, show_progress=False)
    _, accepted, rejected, planned = outcome(result)
    assert sorted(r.id for r in accepted + rejected) == sorted(planned)
    assert len(accepted) == 20
    stats = server.stats()
    assert stats["batches"] == 1 and stats["requests"] == 20


def test_the_api_key_reaches_the_endpoint_and_nothing_else(tmp_path: Path, fake_openai) -> None:
    secret = "sk-test-4f8a1c2e9b7d"
    server = fake_openai("--fault-rate", "0.3", "--faults", "500,not_json")
    project = fake_project(tmp_path, server, generate__n=10, endpoint__api_key_env="STUDIO_TEST_KEY")
    result = run_studio("generate", "--project", str(project), env={"STUDIO_TEST_KEY": secret})
    assert result.returncode == 0, result.stderr
    assert server.stats()["authorized"] == server.stats()["requests"] > 0  # every request carried it
    assert secret not in result.stdout + result.stderr
    for path in (tmp_path / "outputs").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
