"""`studio run --review wait` with people in the loop: the run pushes a sample to the real local Argilla and
waits; a reviewer answers while it waits (accept, reject, correct); the run goes on by itself, and what the
reviewer decided is what the curated file, the exported dataset and the training splits hold."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from datasets import load_from_disk

from studio.records import read_records
from studio.review.client import Argilla
from studio.runs import Run
from tests.conftest import ROOT
from tests.e2e.test_joins import project
from tests.review.conftest import Reviewer, argilla_ids

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

RUN = "review-wait"
CORRECTED = "Penguin wood, as the reviewer put it: pale silver-grey, light, strong and naturally oily."


def answer_when_pushed(owner: Argilla, size: int, plan: dict[str, list[str]], deadline: float, unique: Path) -> None:
    """As a reviewer does: wait until the sample is in Argilla, then reject two, correct one, accept the rest. The
    corrected one is no qa item: a qa item's chat answer is its `answer`, not the text a reviewer corrects."""
    reviewer = Reviewer(owner, "ann-wait", "studio")
    while time.monotonic() < deadline:
        dataset = next((d for d in owner.get("/me/datasets")["items"] if d["name"] == f"penguin-wood-{RUN}"), None)
        ids = argilla_ids(owner, dataset["id"]) if dataset else {}
        if len(ids) == size:
            break
        time.sleep(0.5)
    else:
        return
    kinds = {r.id: r.data.get("kind") for r in read_records(unique)}
    fix = next(i for i in sorted(ids) if kinds.get(i) != "qa")
    rest = [i for i in sorted(ids) if i != fix]
    plan["rejected"], plan["corrected"], plan["accepted"] = rest[:2], [fix], rest[2:]
    reject = {"decision": "reject", "rating": 1}
    answers = [{"record_id": ids[i], "status": "submitted", "values": reject} for i in plan["rejected"]]
    fixed = {"decision": "accept", "rating": 3, "correction": CORRECTED}
    answers += [{"record_id": ids[i], "status": "submitted", "values": fixed} for i in plan["corrected"]]
    accept = {"decision": "accept", "rating": 5}
    answers += [{"record_id": ids[i], "status": "submitted", "values": accept} for i in plan["accepted"]]
    time.sleep(1.5)  # answered while the run waits, not before it looks
    reviewer.answer(answers)


def test_run_waits_for_the_reviewers_and_trains_on_what_they_decided(
    tmp_path: Path, fake_openai, tiny_llama: Path, argilla
) -> None:
    server = fake_openai()
    size = 8
    file = project(
        tmp_path,
        server.base_url,
        tiny_llama,
        review__size=size,
        review__unreviewed="keep",
        review__poll_s=0.5,
        review__wait_timeout_s=240,
    )
    run = Run(tmp_path / "outputs" / "penguin-wood" / RUN)
    plan: dict[str, list[str]] = {}
    with Argilla(argilla.url, argilla.api_key()) as owner:
        reviewer = threading.Thread(
            target=answer_when_pushed, args=(owner, size, plan, time.monotonic() + 300, run.file("unique"))
        )
        reviewer.start()
        done = subprocess.run(
            [sys.executable, "-m", "studio", "run", "--project", str(file), "--run", RUN, "--review", "wait"]
            + ["--no-progress"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        reviewer.join()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "waiting until 8 of 8 record(s) are reviewed" in done.stderr
    assert len(plan["accepted"]) == size - 3

    unique = {r.id: r for r in read_records(run.file("judged"))}
    reviewed = {r.id: r for r in read_records(run.file("reviewed"))}
    assert list(reviewed) == list(unique)
    for item_id in plan["rejected"]:
        assert reviewed[item_id].meta["review"]["decision"] == "rejected"
        assert reviewed[item_id].meta["review"]["by"] == "reviewers"
    [fixed_id] = plan["corrected"]
    assert reviewed[fixed_id].data["text"] == CORRECTED and reviewed[fixed_id].meta["review"]["corrected"]
    assert reviewed[fixed_id].meta["review"]["original"] == unique[fixed_id].data

    # Curated: every item but the two rejected, the correction in place of the generated text.
    curated = read_records(run.file("curated"))
    assert [r.id for r in curated] == [i for i in unique if i not in plan["rejected"]]
    by_id = {r.id: r for r in curated}
    assert by_id[fixed_id].data["text"] == CORRECTED
    assert all(by_id[i].data == unique[i].data for i in by_id if i != fixed_id)

    # The exported dataset and the training splits hold exactly that.
    exported = [json.loads(line) for line in (run.dir / "dataset" / "data.jsonl").read_text().splitlines()]
    assert [(r["id"], r["data"]) for r in exported] == [(r.id, r.data) for r in curated]
    # Shareable: who reviewed and where the items were generated stay in the run, not in the dataset.
    assert "ann-wait" in run.file("curated").read_text() and server.base_url in run.file("curated").read_text()
    for name in ("data.jsonl", "data.parquet", "README.md", "data/train.parquet", "hf/train/data-00000-of-00001.arrow"):
        shared = (run.dir / "dataset" / name).read_bytes()
        assert b"ann-wait" not in shared and server.base_url.encode() not in shared, name
    [fixed] = [r for r in exported if r["id"] == fixed_id]
    assert fixed["meta"]["review"]["by"] == "reviewers" and fixed["meta"]["review"]["corrected"] is True
    chats = [
        json.loads(line)
        for name in sorted((run.dir / "dataset").glob("openai_chat_*.jsonl"))
        for line in name.read_text().splitlines()
    ]
    answers = [m["content"] for c in chats for m in c["messages"] if m["role"] == "assistant"]
    assert len(answers) == len(curated) and CORRECTED in answers
    card = (run.dir / "dataset" / "README.md").read_text()
    assert "- 8 items were reviewed by people; 75% of them were accepted." in card  # 6 of 8, the correction too
    assert "Each record had one reviewer" in card
    assert "human review in Argilla of 8 items." in card  # no agreement figure made up from one answer a record
    splits = load_from_disk(str(run.file("splits")))
    assert sorted(i for s in splits.values() for i in s["id"]) == sorted(by_id)
    stages = json.loads(run.manifest_path.read_text())["stages"]
    assert stages["review"]["mode"] == "wait" and stages["review"]["counts"]["rejected"] == 2
    assert stages["review"]["wait"]["reached"] is True
