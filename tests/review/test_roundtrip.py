"""The round trip against the real local Argilla: push 200 items, two reviewers answer through the REST
API (accept, reject, correct, discard, disagree), pull, and every decision and correction lands on the
right record; pushing again adds no copies; a push cut by a killed server is finished after a restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import studio
from studio.errors import StudioError
from studio.project import load_project
from studio.records import read_records
from studio.review import server
from studio.review.client import Argilla
from studio.review.push import run_push
from studio.runs import Run
from tests.conftest import run_studio
from tests.review.conftest import argilla_ids, review_project
from tests.review.items import make_items

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

CORRECTED_TEXT = "Penguin wood, corrected by a reviewer: pale silver-grey, light, strong and oily."
# A JSON correction per kind that changes an attribute and stays valid.
PATCHES = {
    "description": {"appearance": {"colour": "silver-grey with black bands"}},
    "properties": {"properties": {"density_kg_m3": 640}},
    "applications": {"uses": ["boatbuilding"]},
    "history": {"era": "19th century"},
    "qa": {"answer": "Natural oils in its wood keep the water out."},
}


def plan_answers(items_by_id: dict, ids: list[str]) -> dict[str, tuple[dict | None, dict | None, str]]:
    """Per pushed record: what ann1 and ann2 answer, and the expected outcome, by the record's place."""
    plan = {}
    for n, item_id in enumerate(sorted(ids)):
        group = n % 10
        kind = items_by_id[item_id].data["kind"]
        accept = {"status": "submitted", "values": {"decision": "accept", "rating": 4}}
        reject = {"status": "submitted", "values": {"decision": "reject", "rating": 1}}
        if group in (0, 1, 2, 3):
            plan[item_id] = (accept, {"status": "submitted", "values": {"decision": "accept", "rating": 5}}, "accept")
        elif group == 4:
            plan[item_id] = (reject, reject, "reject")
        elif group == 5:
            fix = CORRECTED_TEXT if n % 20 < 10 else json.dumps(PATCHES[kind])
            fixed = {"status": "submitted", "values": {"decision": "accept", "rating": 3, "correction": fix}}
            plan[item_id] = (fixed, accept, "corrected")
        elif group == 6:
            # Too short for the schema's text (minLength 40), or an attribute value the schema forbids.
            bad = "Too short." if n % 20 < 10 else json.dumps({"kind": "poem"})
            broken = {"status": "submitted", "values": {"decision": "accept", "correction": bad}}
            plan[item_id] = (broken, accept, "invalid")
        elif group == 7:
            plan[item_id] = ({"status": "discarded"}, {"status": "discarded"}, "discarded")
        elif group == 8:
            plan[item_id] = (accept, reject, "tie")
        else:
            plan[item_id] = (None, None, "unanswered")
    return plan


def test_push_answer_pull_round_trip(argilla, owner, reviewers, tmp_path: Path) -> None:
    items = make_items(240)
    by_id = {r.id: r for r in items}
    project_file = review_project(tmp_path, "trip", items, size=200, min_acceptance=0.6)

    pushed = studio.review_push(project_file, run="trip", show_progress=False)
    assert pushed["counts"] == {**pushed["counts"], "sampled": 200, "created": 200, "updated": 0, "in_dataset": 200}
    dataset_id = pushed["dataset"]["id"]
    ids = argilla_ids(owner, dataset_id)
    assert len(ids) == 200 and set(ids) <= set(by_id)

    plan = plan_answers(by_id, list(ids))
    for who, reviewer in enumerate(reviewers):
        reviewer.answer([{**answers[who], "record_id": ids[i]} for i, answers in plan.items() if answers[who]])

    pulled = studio.review_pull(project_file, run="trip", show_progress=False)
    reviewed = {r.id: r for r in read_records(Path(pulled["run_dir"]) / "04-reviewed.jsonl")}
    assert list(reviewed) == [r.id for r in items]  # every unique item, in order, once

    expected = {"accept": 0, "reject": 0}
    for item_id, (_, _, outcome) in plan.items():
        review = reviewed[item_id].meta["review"]
        data = reviewed[item_id].data
        assert review["pushed"] is True
        if outcome == "unanswered":
            assert review["by"] == "policy"
            continue
        assert review["by"] == "reviewers"
        assert {r["user"] for r in review["reviewers"]} == {"ann1", "ann2"}
        assert all(r["answered_at"] for r in review["reviewers"])
        if outcome == "accept":
            assert review["decision"] == "accepted" and review["rating"] == 4.5
            assert data == by_id[item_id].data and not review.get("corrected")
        elif outcome in ("reject", "discarded"):
            assert review["decision"] == "rejected"
            assert reviewed[item_id].meta["rejected"]["stage"] == "review"
            if outcome == "discarded":
                assert review["votes"]["discarded"] == 2 and review["rating"] is None
        elif outcome == "corrected":
            assert review["decision"] == "accepted" and review["corrected"] is True
            assert review["original"] == by_id[item_id].data
            if review["correction"].startswith("{"):
                patch = PATCHES[data["kind"]]
                key = next(iter(patch))
                changed = patch[key] if not isinstance(patch[key], dict) else {**by_id[item_id].data[key], **patch[key]}
                assert data[key] == changed and data["text"] == by_id[item_id].data["text"]
            else:
                assert data["text"] == CORRECTED_TEXT
        elif outcome == "invalid":
            assert review["decision"] == "accepted" and review["corrected"] is False
            assert review["correction_error"] and data == by_id[item_id].data
        elif outcome == "tie":
            assert review["tie"] is True and review["decision"] == "rejected"
            assert "tied" in review["reason"]
        expected["accept" if review["decision"] == "accepted" else "reject"] += 1

    c = pulled["counts"]
    groups = {o: sum(1 for *_, out in plan.values() if out == o) for o in ("corrected", "invalid", "tie", "unanswered")}
    assert c["reviewed"] == 200 - groups["unanswered"]
    assert c["corrected"] == groups["corrected"] and c["invalid_corrections"] == groups["invalid"]
    assert c["ties"] == groups["tie"] and sorted(pulled["ties"]) == sorted(i for i, p in plan.items() if p[2] == "tie")
    assert {bad["id"] for bad in pulled["invalid_corrections"]} == {i for i, p in plan.items() if p[2] == "invalid"}
    rate = expected["accept"] / c["reviewed"]
    assert pulled["acceptance_rate"] == pytest.approx(rate, abs=1e-4)

    # Unreviewed items (pushed but unanswered, and never pushed) follow keep_if_passed at 0.6.
    unreviewed = [r for r in reviewed.values() if r.meta["review"]["by"] == "policy"]
    assert len(unreviewed) == c["unreviewed"] == groups["unanswered"] + 40
    assert all(r.meta["review"]["decision"] == ("accepted" if rate >= 0.6 else "rejected") for r in unreviewed)

    # Agreement: every group agrees but the ties.
    decision = pulled["agreement"]["decision"]
    assert decision["records"] == c["reviewed"]
    assert decision["pairwise"] == pytest.approx(1 - groups["tie"] / c["reviewed"], abs=1e-4)
    manifest = Run(pulled["run_dir"]).manifest()["stages"]
    assert manifest["review"]["agreement"] == pulled["agreement"]
    assert manifest["push"]["counts"]["sampled"] == 200

    # Pushing again is skipped while nothing changed; forced, it updates the same 200 records, the answers stay
    # and the pull gives the same decisions.
    assert studio.review_push(project_file, run="trip", show_progress=False)["skipped"]
    again = studio.review_push(project_file, run="trip", force=True, show_progress=False)
    assert (again["counts"]["created"], again["counts"]["updated"], again["counts"]["in_dataset"]) == (0, 200, 200)
    assert sorted(argilla_ids(owner, dataset_id)) == sorted(ids)
    repulled = studio.review_pull(project_file, run="trip", show_progress=False)
    assert repulled["counts"] == pulled["counts"]

    # Waiting: a target already reached returns at once; one not reached stops at the timeout.
    reached = studio.review_pull(project_file, run="trip", wait=True, target=0.5, timeout=60, show_progress=False)
    assert reached["wait"]["reached"] and reached["wait"]["reviewed"] == c["reviewed"]
    short = studio.review_pull(project_file, run="trip", wait=True, target=1.0, timeout=1, show_progress=False)
    assert not short["wait"]["reached"] and short["wait"]["seconds"] < 15


def test_secrets_stay_out_of_logs_outputs_and_cli(argilla, tmp_path: Path) -> None:
    project_file = str(review_project(tmp_path, "secret", make_items(20)))
    shown = [
        run_studio("review", "push", "--project", project_file, "--run", "secret", "--no-progress"),
        run_studio("review", "pull", "--project", project_file, "--run", "secret", "--no-progress"),
        run_studio("review", "status"),
        run_studio("review", "serve"),
    ]
    assert all(p.returncode == 0 for p in shown), [p.stderr for p in shown]
    push, pull, status, _ = (p.stdout for p in shown)
    assert "pushed 20 of 20 judged item(s)" in push and "/annotation-mode" in push
    assert "0 of 20 pushed item(s) reviewed" in pull and "04-reviewed.jsonl" in pull
    assert str(server.credentials_path()) in status and argilla.url in status and "user studio" in status
    creds = json.loads(server.credentials_path().read_text())
    assert os.stat(server.credentials_path()).st_mode & 0o777 == 0o600
    texts = [p.stdout + p.stderr for p in shown]
    texts += [f.read_text(errors="replace") for f in argilla.log_dir.glob("*.log")]
    texts += [
        f.read_text() for f in (tmp_path / "outputs").rglob("*") if f.is_file() and f.suffix in (".json", ".jsonl")
    ]
    for secret in ("password", "api_key", "auth_secret_key"):
        assert not any(creds[secret] in t for t in texts), secret


def test_push_cut_by_a_killed_server_completes_after_restart(argilla, tmp_path: Path) -> None:
    items = make_items(400, doubtful_every=0)
    project_file = review_project(tmp_path, "crash", items, size=400)
    project = load_project(project_file)
    run = Run.open(project.output_dir, project.domain.name, "crash")
    stack = server.status()
    killed = threading.Event()

    def kill_mid_push() -> None:
        # Kill the API server once the first batch is in and the push is still going.
        with Argilla(stack.url, stack.api_key()) as watcher:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                found = watcher.get("/me/datasets", name="penguin-wood-crash")["items"]
                if found and 0 < watcher.get(f"/datasets/{found[0]['id']}/records", limit=1)["total"] < 400:
                    os.kill(stack.pids["server"], signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_mid_push)
    killer.start()
    with Argilla(stack.url, stack.api_key(), retry_seconds=2) as client, pytest.raises(StudioError, match="re-run"):
        run_push(project, run, client, show_progress=False)
    killer.join()
    assert killed.is_set()

    restarted, started = server.serve(port=stack.port)  # the session's clients know this port
    assert started
    again = studio.review_push(project_file, run="crash", show_progress=False)
    assert again["counts"]["in_dataset"] == 400 and 0 < again["counts"]["updated"] < 400
    with Argilla(restarted.url, restarted.api_key()) as client:
        ids = argilla_ids(client, again["dataset"]["id"])
        assert sorted(ids) == sorted(r.id for r in items)
        # The search index (rebuilt at start, then fed by the push) holds every record too.
        found = client.post(f"/datasets/{again['dataset']['id']}/records/search", {}, limit=1)
        assert found["total"] == 400


def test_an_existing_argilla_by_url_and_a_key_from_the_environment(argilla, tmp_path: Path, monkeypatch) -> None:
    # The local stack stands in for one hosted elsewhere: reached by another name, with no stored key.
    elsewhere = argilla.url.replace("127.0.0.1", "localhost")
    project_file = review_project(tmp_path, "hosted", make_items(10), api_url=elsewhere, api_key_env="HOSTED_KEY")
    monkeypatch.delenv("HOSTED_KEY", raising=False)
    with pytest.raises(StudioError, match="review.api_key_env: set the environment variable HOSTED_KEY"):
        studio.review_push(project_file, run="hosted", show_progress=False)
    monkeypatch.setenv("HOSTED_KEY", "not-the-key")
    with pytest.raises(StudioError, match="refused the API key"):
        studio.review_push(project_file, run="hosted", show_progress=False)
    monkeypatch.setenv("HOSTED_KEY", argilla.api_key())
    pushed = studio.review_push(project_file, run="hosted", show_progress=False)
    assert pushed["dataset"]["api_url"] == elsewhere and pushed["counts"]["in_dataset"] == 10
