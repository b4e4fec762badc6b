"""Generation you can trust: faults, retries, timeouts, budgets, resume, against a real HTTP
server on 127.0.0.1 that misbehaves on purpose (tests/openai_server.py). The Batch API: test_batch.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest

import studio
from studio.generation.client import Client
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
        assert len(accepted) == 3, expected  # else the check below holds for no item at all
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


def test_a_strict_provider_gets_the_subset_it_takes_and_every_item_is_checked_against_the_whole_schema(
    tmp_path: Path, fake_openai
) -> None:
    # The server refuses, in OpenAI's words, a strict schema with minLength, maxLength, uniqueItems, oneOf, ...
    # (the domain schema has all of these), and reads the limits in the prompt, as a model does.
    server = fake_openai("--modes", "json_schema,json_object,text")
    project = fake_project(tmp_path, server, generate__n=20, endpoint__structured_output="auto")
    run, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
    assert server.stats()["schema_refusals"] == 0
    assert len(accepted) == 20 and not rejected
    assert all(r.meta["structured_output"] == "json_schema" for r in accepted)
    assert all(SCHEMA.first_error(r.data) is None for r in accepted)


def test_a_schema_refused_mid_run_moves_the_endpoint_one_mode_down_once_and_no_item_pays_for_it(
    tmp_path: Path, fake_openai
) -> None:
    # A provider stricter than OpenAI: no minItems either. The probe's item (kind description) has none, so
    # negotiation takes json_schema; the first applications item ("uses": minItems 1) is refused.
    server = fake_openai("--modes", "json_schema,json_object,text", "--strict-refuses", "minItems")
    project = fake_project(tmp_path, server, generate__n=30, endpoint__structured_output="auto")
    said: list[str] = []
    run, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False, say=said.append))
    refusals = server.stats()["schema_refusals"]
    assert refusals >= 1
    assert not rejected and len(accepted) == 30, [r.meta["rejected"]["reason"] for r in rejected]
    modes = Counter(r.meta["structured_output"] for r in accepted)
    assert modes["json_object"] > 0 and set(modes) <= {"json_schema", "json_object"}
    downs = [line for line in said if "asking in json_object mode" in line]
    assert len(downs) == 1 and "'minItems' is not permitted" in downs[0], said
    # The next run remembers the mode: no refusal again, and the items made in json_schema still stand.
    again = studio.generate(project, show_progress=False, say=said.append, force=True)
    assert again["structured_output"] == "json_object"
    assert server.stats()["schema_refusals"] == refusals
    assert again["counts"]["stale"] == 0 and again["counts"]["done_before"] == 30


def test_a_reply_the_server_could_not_parse_is_the_item_s_failure_not_retried_forever(
    tmp_path: Path, fake_openai
) -> None:
    # llama-server answers 500 when the model's output leaves the format; the seeded request gets the same output
    # again, so the item is rejected at once with the reason, and the next run does not ask for it again.
    server = fake_openai("--fault-first", "9", "--faults", "unparsed")
    project = fake_project(tmp_path, server, generate__n=4, generate__repair=False)
    first = studio.generate(project, show_progress=False)
    _, accepted, rejected, _ = outcome(first)
    assert first["complete"] and not accepted and len(rejected) == 4
    for r in rejected:
        assert "does not match the expected peg-native format" in r.meta["rejected"]["reason"]
        assert r.meta["rejected"]["retryable"] is False
    assert [len(times) for times in server.stats()["arrivals"].values()] == [1] * 4  # asked once each
    asked = server.stats()["requests"]
    again = studio.generate(project, show_progress=False, force=True)
    assert again["counts"]["done_before"] == 4 and server.stats()["requests"] == asked


def test_a_budget_stops_the_run_and_a_larger_one_continues(tmp_path: Path, fake_openai) -> None:
    server = fake_openai()
    project = fake_project(tmp_path, server, generate__n=30, budget__tokens=6000, endpoint__concurrency=4)
    first = studio.generate(project, show_progress=False)
    assert first["budget_stop"] == "token budget of 6,000 reached" and not first["complete"]
    assert "raise budget.tokens in the project file" in first["stopped"]
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


def retry_gaps(stats: dict) -> list[float]:
    """For every request body the server saw more than once: seconds from its first arrival to its second."""
    return [times[1] - times[0] for times in stats["arrivals"].values() if len(times) > 1]


# 1.2 s: more than any first backoff (a random wait of at most 1 s), so a retry that ignored it comes too early.
# A date has whole seconds (the server rounds up), so it may ask for up to a second more.
@pytest.mark.parametrize(("form", "slack"), [("seconds", 0.8), ("ms", 0.8), ("date", 1.8)])
def test_a_429_is_retried_after_the_wait_it_asks_for(tmp_path: Path, fake_openai, form: str, slack: float) -> None:
    server = fake_openai("--fault-first", "1", "--faults", "429", "--retry-after", "1.2", "--retry-after-form", form)
    project = fake_project(tmp_path, server, generate__n=3, endpoint__concurrency=3)
    _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
    assert len(accepted) == 3 and not rejected
    gaps = retry_gaps(server.stats())
    assert len(gaps) == 3 and all(1.2 <= gap <= 1.2 + slack for gap in gaps), gaps


@pytest.mark.parametrize("form", ["malformed", "bad-date"])
def test_a_malformed_retry_after_falls_back_to_backoff(tmp_path: Path, fake_openai, form: str) -> None:
    server = fake_openai("--fault-first", "1", "--faults", "429", "--retry-after-form", form)
    project = fake_project(tmp_path, server, generate__n=3, endpoint__concurrency=3)
    done = run_studio("generate", "--project", str(project))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    (generated,) = (tmp_path / "outputs").rglob("01-generated.jsonl")
    assert len(read_records(generated)) == 3
    gaps = retry_gaps(server.stats())
    assert len(gaps) == 3 and all(gap <= 1.0 + 0.5 for gap in gaps), gaps  # the first backoff is at most 1 s


def test_a_huge_retry_after_is_capped_and_said_once(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--fault-first", "1", "--faults", "429", "--retry-after", "3600")
    project = fake_project(tmp_path, server, generate__n=3, endpoint__concurrency=3, endpoint__retry_after_cap_s=0.5)
    said: list[str] = []
    _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False, say=said.append))
    assert len(accepted) == 3 and not rejected
    gaps = retry_gaps(server.stats())
    assert len(gaps) == 3 and all(0.5 <= gap <= 0.5 + 0.8 for gap in gaps), gaps
    assert [line for line in said if "Retry-After" in line] == [
        "the endpoint asked to wait 3600 s (Retry-After); waiting 0.5 s, the cap (endpoint.retry_after_cap_s)"
    ]


def test_the_client_caps_retry_after_and_says_so_once(fake_openai) -> None:
    server = fake_openai("--fault-first", "1", "--faults", "429", "--retry-after", "3600")
    said: list[str] = []

    async def ask_twice() -> list[int]:
        client = Client(server.base_url, "fake", None, timeout=5, retry_after_cap_s=0.3, say=said.append)
        try:
            return [(await client.chat([{"role": "user", "content": f"q{i}"}], {})).attempts for i in range(2)]
        finally:
            await client.close()

    assert asyncio.run(ask_twice()) == [2, 2]
    gaps = retry_gaps(server.stats())
    assert len(gaps) == 2 and all(0.3 <= gap <= 0.3 + 0.8 for gap in gaps), gaps
    assert said == [
        "the endpoint asked to wait 3600 s (Retry-After); waiting 0.3 s, the cap (endpoint.retry_after_cap_s)"
    ]


def mean_in_flight(series: list[list[float]], start: float, end: float) -> float:
    """The time-weighted mean of a step series of [time, requests in flight] over [start, end]."""
    total, level, t = 0.0, 0, start
    for when, count in series:
        if when >= end:
            break
        if when > start:
            total, t = total + level * (when - t), when
        level = count
    return (total + level * (end - t)) / (end - start)


def test_concurrency_falls_to_the_servers_limit_and_recovers(tmp_path: Path, fake_openai) -> None:
    n = 90
    # The server refuses a 4th request in flight with a 429 that says Retry-After: 0.2.
    server = fake_openai("--max-in-flight", "3", "--latency", "0.15", "--retry-after", "0.2")
    project = fake_project(tmp_path, server, generate__n=n, endpoint__concurrency=12, endpoint__max_attempts=12)
    _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
    assert len(accepted) == n and not rejected, Counter(r.meta["rejected"]["reason"][:60] for r in rejected)

    stats = server.stats()
    series, limited = stats["in_flight"]["series"], stats["limited"]
    arrivals = sorted(t for times in stats["arrivals"].values() for t in times)
    answered = [t for (t, count), (_, before) in zip(series[1:], series, strict=False) if count < before]
    start = arrivals[0]
    assert stats["in_flight"]["peak"] == 3 and len(answered) == n
    # It began with 12 in flight: most of the first wave was refused.
    assert sum(1 for t in limited if t < start + 0.5) >= 9
    # From a second in until the last 12 items (too few to keep every worker busy), it stays at the cap:
    lo, hi = start + 1.0, answered[n - 12]
    refused = [t for t in limited if lo <= t < hi]
    came = sum(1 for t in arrivals if lo <= t < hi)
    assert len(refused) <= 0.25 * came, (len(refused), came)  # no storm of 429s: it fell to the cap ...
    # ... and came back up to it: the server is kept nearly full (a client stuck lower would be at 1 or 2) ...
    assert mean_in_flight(series, lo, hi) >= 2.25, mean_in_flight(series, lo, hi)
    # ... and it still probes for more (additive increase), so now and then a late request is refused.
    assert any(t >= (lo + hi) / 2 for t in refused), refused


def test_text_mode_replies_in_prose_or_fences_are_accepted(tmp_path: Path, fake_openai) -> None:
    for wrap in ("prose", "fence"):
        server = fake_openai("--modes", "text", "--text-wrap", wrap)
        project = fake_project(tmp_path / wrap, server, generate__n=12, endpoint__structured_output="text")
        _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
        assert len(accepted) == 12 and not rejected, [r.meta["rejected"]["reason"] for r in rejected]
        assert all(r.meta["structured_output"] == "text" and not r.meta["repaired"] for r in accepted)
        assert all(SCHEMA.first_error(r.data) is None for r in accepted)
        assert server.stats()["requests"] == 12


BAD_REPLY = 'Sure! Here is the item: {"unexpected": true} Hope it helps.'  # schema_violation, in prose


def test_a_bad_first_reply_in_text_mode_is_repaired_quoting_the_validator(tmp_path: Path, fake_openai) -> None:
    flags = ("--modes", "text", "--text-wrap", "prose", "--fault-first", "1", "--faults", "schema_violation")
    server = fake_openai(*flags)
    project = fake_project(tmp_path, server, generate__n=8, endpoint__structured_output="text")
    _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
    assert len(accepted) == 8 and not rejected
    assert all(r.meta["repaired"] for r in accepted)
    repairs = {r["seed"]: r["messages"] for r in server.stats()["repairs"]}
    assert len(repairs) == 8
    for record in accepted:
        *_, bad, ask = repairs[record.meta["params"]["seed"]]
        problem = SCHEMA.branch(record.meta["axes"]).first_error({"unexpected": True})
        assert bad == {"role": "assistant", "content": BAD_REPLY}
        assert ask["role"] == "user" and problem and problem in ask["content"], (problem, ask)


def test_without_repair_a_bad_first_reply_is_rejected_with_the_validators_reason(tmp_path: Path, fake_openai) -> None:
    flags = ("--modes", "text", "--text-wrap", "prose", "--fault-first", "1", "--faults", "schema_violation")
    server = fake_openai(*flags)
    project = fake_project(tmp_path, server, generate__n=8, endpoint__structured_output="text", generate__repair=False)
    _, accepted, rejected, _ = outcome(studio.generate(project, show_progress=False))
    assert not accepted and len(rejected) == 8
    for record in rejected:
        problem = SCHEMA.branch(record.meta["axes"]).first_error({"unexpected": True})
        assert record.meta["rejected"]["reason"] == problem and not record.meta["rejected"]["retryable"]
        assert record.meta["raw"] == BAD_REPLY
    stats = server.stats()
    assert stats["repairs"] == [] and stats["requests"] == 8
