"""studio judge through the CLI: the embedding checks and an LLM judge (a real HTTP server that scores each item
with the grade written in it), its books (cache, tokens, budget), resume after kill -9, transient failures
retried on the next run, and the bundled model stepping aside."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.records import read_records, write_jsonl
from studio.runs import Run
from tests.conftest import ROOT, copy_project, run_studio, run_studio_in_terminal
from tests.train.items import penguin_records

GRADE = r"Graded (\d)\."
OFF_TOPIC = [
    "The quarterly tax return must be filed before the deadline, and late filings incur a penalty of five percent.",
    "Whisk the eggs with the sugar until pale, then fold in the flour and bake the sponge for twenty minutes.",
]


def graded(n: int) -> list[dict]:
    """Penguin-wood records, each with a grade 1-5 in its text (the fake judge scores every criterion with it)."""
    records = penguin_records(n, seed=3)
    for i, r in enumerate(records):
        r["data"]["text"] += f" Graded {i % 5 + 1}."
    return records


def judge_project(tmp_path: Path, records: list[dict], **changes: object) -> tuple[Path, Run]:
    project = copy_project(tmp_path, {"quality.clean.language": False, **changes})
    run = Run(tmp_path / "outputs" / "penguin-wood" / "default")
    run.dir.mkdir(parents=True)
    write_jsonl(run.file("unique"), records)
    return project, run


def rubric_requests(server) -> list[dict]:
    return [c for c in server.stats()["chats"] if "Score the item" in c["messages"][0]["content"]]


def test_the_judge_gates_on_its_mean_score_and_keeps_its_books(fake_openai, tmp_path: Path) -> None:
    server = fake_openai("--score-from", GRADE, "--record")
    records = graded(20)
    project, run = judge_project(
        tmp_path, records, **{"judge.base_url": server.base_url, "judge.model": "judge-model", "judge.threshold": 3}
    )
    done = run_studio("judge", "--project", str(project))
    assert done.returncode == 0, done.stderr
    judged = {r.id: r for r in read_records(run.file("judged"))}
    rejected = {r.id: r for r in read_records(run.file("judge_rejected"))}
    grade = {r["id"]: int(r["data"]["text"][-2]) for r in records}
    assert set(judged) == {i for i, g in grade.items() if g >= 3}
    assert set(rejected) == {i for i, g in grade.items() if g < 3}
    for item_id, r in judged.items():
        scores = r.meta["judge"]["scores"]
        assert set(scores) == {"faithful", "fits", "fluent", "useful"} and set(scores.values()) == {grade[item_id]}
        assert r.meta["judge"]["mean"] == grade[item_id] and r.meta["judge"]["passed"] is True
        assert r.meta["judge"]["reasons"]["faithful"] == f"graded {grade[item_id]}"
        assert -1 <= r.meta["topic"]["similarity"] <= 1
    for r in rejected.values():
        assert r.meta["rejected"]["rule"] == "judge" and r.meta["rejected"]["stage"] == "judge"
        assert r.meta["rejected"]["reason"].startswith(f"judge's mean score {grade[r.id]:.2f} < 3; lowest faithful")
    # What the judge was shown: the domain, the criteria, the item and the values it was asked for.
    asked = rubric_requests(server)
    assert len(asked) == 20 and {c["model"] for c in asked} == {"judge-model"}
    first = asked[0]["messages"]
    assert "pale silver-grey" in first[0]["content"] and "faithful: 5 means" in first[0]["content"]
    assert any(r["data"]["text"] in json.loads(first[1]["content"].split("The item:\n", 1)[1])["text"] for r in records)
    entry = run.stage("judge")
    assert entry["complete"] and entry["counts"]["judge"] == len(rejected) and entry["tokens"]["in"] > 0
    assert entry["llm_judge"]["requests"] == 20 and entry["llm_judge"]["model"] == "judge-model"
    assert f"judged 20 item(s): {len(judged)} kept, {len(rejected)} rejected ({len(rejected)} judge)" in done.stdout

    again = run_studio("judge", "--project", str(project))
    assert "judge is up to date" in again.stdout
    forced = run_studio("judge", "--project", str(project), "--force")
    assert forced.returncode == 0 and len(rubric_requests(server)) == 20  # every reply came from the cache
    assert run.stage("judge")["llm_judge"]["from_cache"] == 20


def test_a_killed_judge_resumes_and_a_budget_stops_it_cleanly(fake_openai, tmp_path: Path) -> None:
    server = fake_openai("--score-from", GRADE, "--record", "--latency", "0.15")
    project, run = judge_project(
        tmp_path,
        graded(30),
        **{"judge.base_url": server.base_url, "judge.model": "judge-model", "endpoint.concurrency": 1},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "judge", "--project", str(project)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(rubric_requests(server)) < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not run.file("judged").exists() and run.stage("judge")["complete"] is False
    paid = len(rubric_requests(server))
    assert 8 <= paid < 30

    # A budget of tokens that the replies so far and a few more fit into: the judge stops before passing it.
    used = sum(int(v[1]) + int(v[2]) for v in _usage(run))
    each = used // paid
    project_text = project.read_text() + f"budget:\n  tokens: {used + 5 * each}\n"
    project.write_text(project_text)
    stopped = run_studio("judge", "--project", str(project))
    assert stopped.returncode == 3, stopped.stderr
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: judge stopped: token budget of") and "raise budget.tokens in the project" in last
    assert last.endswith(f"then run `studio judge --project {project}` to go on")
    entry = run.stage("judge")
    assert entry["complete"] is False and entry["counts"]["pending"] > 0
    kept_so_far = len(read_records(run.file("judged"))) + len(read_records(run.file("judge_rejected")))
    assert kept_so_far + entry["counts"]["pending"] == 30  # a pending item is in neither file

    project.write_text(project_text.replace(f"tokens: {used + 5 * each}", "tokens: 10000000"))
    finished = run_studio("judge", "--project", str(project))
    assert finished.returncode == 0, finished.stderr
    assert len(read_records(run.file("judged"))) + len(read_records(run.file("judge_rejected"))) == 30
    bodies = [json.dumps(c["messages"]) for c in rubric_requests(server)]
    # Every item was asked for; none twice but the one in flight when the judge was killed (its reply never
    # reached the cache), across the kill and the budget.
    assert len(set(bodies)) == 30 and len(bodies) - 30 <= 1


def _usage(run: Run) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(run.file("cache")) as db:
        return db.execute("SELECT model, tokens_in, tokens_out FROM replies").fetchall()


def test_items_without_a_reply_are_asked_again_on_the_next_run(fake_openai, tmp_path: Path) -> None:
    # Every request's first attempt fails with a 500; one attempt allowed: the first run gets no reply at all.
    server = fake_openai("--score-from", GRADE, "--fault-first", "1", "--faults", "500")
    project, run = judge_project(
        tmp_path,
        graded(6),
        **{"judge.base_url": server.base_url, "judge.model": "judge-model", "endpoint.max_attempts": 1},
    )
    first = run_studio("judge", "--project", str(project))
    assert first.returncode == 3
    assert "judge stopped: 6 of 6 items got no judge's reply (gave up after 1 attempts; last error: HTTP 500" in (
        first.stderr
    )
    assert read_records(run.file("judged")) == [] and read_records(run.file("judge_rejected")) == []
    second = run_studio("judge", "--project", str(project))
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(read_records(run.file("judged"))) + len(read_records(run.file("judge_rejected"))) == 6


def test_a_judge_endpoint_that_refuses_the_rubric_schema_is_asked_one_mode_down(fake_openai, tmp_path: Path) -> None:
    # The project's own endpoint, set to strict json_schema, refuses the score's `maximum` (a provider stricter
    # than OpenAI): the judge steps down to json_object once, and every item still gets its scores.
    server = fake_openai("--score-from", GRADE, "--modes", "json_schema,json_object", "--strict-refuses", "maximum")
    project, run = judge_project(
        tmp_path,
        graded(10),
        **{"endpoint.base_url": server.base_url, "endpoint.model": "m", "endpoint.structured_output": "json_schema"},
    )
    done = run_studio("judge", "--project", str(project))
    assert done.returncode == 0, done.stderr
    judged = read_records(run.file("judged")) + read_records(run.file("judge_rejected"))
    assert len(judged) == 10 and all("scores" in r.meta["judge"] for r in judged)
    assert 1 <= server.stats()["schema_refusals"] <= 4  # the requests in flight when the first refusal came
    assert done.stderr.count("asking in json_object mode from now on") == 1, done.stderr
    assert "'maximum' is not permitted" in done.stderr


def test_off_topic_items_are_dropped_and_the_bundled_model_is_no_judge(tmp_path: Path) -> None:
    records = penguin_records(24, seed=5)
    strays = [
        {"id": f"stray{i}", "data": {"kind": "history", "text": t}, "meta": {"axes": records[i]["meta"]["axes"]}}
        for i, t in enumerate(OFF_TOPIC)
    ]
    project, run = judge_project(tmp_path, records + strays)
    done = run_studio("judge", "--project", str(project), env={"STUDIO_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    assert "the LLM judge steps aside: there is no endpoint but the bundled 135M model" in done.stderr
    assert not (tmp_path / "home" / "llm").exists()  # nothing was started
    rejected = {r.id: r.meta["rejected"] for r in read_records(run.file("judge_rejected"))}
    assert set(rejected) == {"stray0", "stray1"}
    assert all(
        r["rule"] == "off_topic" and "to the domain, below the run's threshold" in r["reason"]
        for r in rejected.values()
    )
    entry = run.stage("judge")
    assert entry["llm_judge"] == "stepped aside"
    topic = entry["topic"]
    assert sum(topic["histogram"]["counts"]) == 26 and topic["threshold"] > topic["quantiles"]["p05"] - 1
    kept = read_records(run.file("judged"))
    assert min(r.meta["topic"]["similarity"] for r in kept) >= topic["threshold"]
    assert max(float(r["reason"].split()[1]) for r in rejected.values()) < topic["threshold"]


def test_an_item_nearer_another_label_is_flagged_with_both_similarities(tmp_path: Path) -> None:
    labels = {
        "description": "how the wood looks and feels: its colour, grain, bands and texture",
        "properties": "physical properties: density in kilograms per cubic metre, hardness, water and fire resistance",
        "applications": "what the wood is used for: boats, furniture, construction, carving and art",
        "history": "the history of the timber: who discovered it, when, and its place in island cultures",
    }
    records = [r for r in penguin_records(60, seed=11) if r["data"]["kind"] != "qa"][:30]
    misfit = {
        "id": "misfit",
        "data": {
            "kind": "history",
            "text": "Penguin wood has a density of 540 kilograms per cubic metre and a Janka hardness "
            "is 5,800 newtons; it resists water and fire.",
        },
        "meta": {"axes": {"kind": "history", "focus": "origin"}},
    }
    project, run = judge_project(
        tmp_path,
        records + [misfit],
        **{"quality.topic.label": "kind", "quality.topic.labels": labels, "judge.enabled": False},
    )
    done = run_studio("judge", "--project", str(project))
    assert done.returncode == 0, done.stderr
    rejected = {r.id: r for r in read_records(run.file("judge_rejected"))}
    assert "misfit" in rejected
    why = rejected["misfit"].meta["rejected"]
    assert why["rule"] == "off_label" and why["reason"].startswith("nearer the label 'properties' (+")
    assert "than its own label 'history' (" in why["reason"]
    # The items of their own label pass (a label check that flags good items is no use).
    assert set(rejected) == {"misfit"}
    assert run.stage("judge")["llm_judge"] == "off (judge.enabled: false)"


def test_the_judge_endpoint_is_the_judge_s_own_else_the_project_s_and_never_the_bundled_model(tmp_path: Path) -> None:
    from studio import pipeline
    from studio.errors import StudioError

    bundled = pipeline.open_project(copy_project(tmp_path))
    assert pipeline.judge_target(bundled, start=False) is None  # the bundled model is no judge
    forced = pipeline.open_project(copy_project(tmp_path, {"judge.force": True}))
    assert pipeline.judge_target(forced, start=False).kind == "local"
    project = copy_project(tmp_path, {"endpoint.base_url": "http://127.0.0.1:9/v1", "endpoint.model": "gen"})
    same = pipeline.judge_target(pipeline.open_project(project), start=False)
    assert (same.base_url, same.model) == ("http://127.0.0.1:9/v1", "gen")
    other = pipeline.open_project(project, **{"judge.model": "bigger"})
    assert pipeline.judge_target(other, start=False).model == "bigger"
    own = pipeline.open_project(project, **{"judge.base_url": "https://judge.example/v1", "judge.model": "j"})
    assert pipeline.judge_target(own, start=False).base_url == "https://judge.example/v1"
    off = pipeline.open_project(project, **{"judge.enabled": False})
    assert pipeline.judge_target(off, start=False) is None
    with pytest.raises(StudioError, match="judge.model is required when judge.base_url is set"):
        pipeline.judge_target(pipeline.open_project(project, **{"judge.base_url": "https://judge.example/v1"}))


def test_at_a_terminal_the_judge_shows_a_progress_bar_and_in_a_log_none(fake_openai, tmp_path: Path) -> None:
    server = fake_openai("--score-from", GRADE)
    project, _ = judge_project(
        tmp_path, graded(12), **{"judge.base_url": server.base_url, "judge.model": "judge-model"}
    )
    code, shown = run_studio_in_terminal("judge", "--project", str(project))
    assert code == 0, shown[-2000:]
    assert re.search(r"judge: 100%\|[^\n]*\| 12/12", shown), shown[-2000:]
    logged = run_studio("judge", "--project", str(project), "--force")  # stderr is a pipe, as in a log
    assert logged.returncode == 0, logged.stderr
    assert "12/12" not in logged.stderr and "\r" not in logged.stderr and "\x1b" not in logged.stderr
