"""The judge measured against people, through the real local Argilla: a share of the review sample is items the
LLM judge rejected (shown blind), reviewers answer, and the pull reports Cohen's kappa on accept/reject and
Spearman on the rating; a reject the reviewers accept is taken back into the run."""

from __future__ import annotations

from pathlib import Path

import pytest

import studio
from studio.records import Record, read_records, write_jsonl
from studio.runs import Run
from tests.review.conftest import argilla_ids, review_project
from tests.review.items import make_items

pytestmark = [pytest.mark.argilla]

MEANS = [1.5, 2.25, 2.75, 3.0, 3.5, 4.25, 5.0]  # the judge's mean scores; below 3 it rejected the item


def judge_meta(mean: float) -> dict:
    return {"scores": {"faithful": round(mean)}, "reasons": {"faithful": "r"}, "mean": mean, "passed": mean >= 3}


def test_the_judge_agreement_with_reviewers_is_measured_and_they_overrule_it(
    argilla, owner, reviewers, tmp_path: Path
) -> None:
    items = make_items(40)
    for i, r in enumerate(items):
        r.meta["judge"] = judge_meta(MEANS[i % len(MEANS)])
    judged = [r for r in items if r.meta["judge"]["passed"]]
    doubted = [
        Record(r.id, r.data, {**r.meta, "rejected": {"stage": "judge", "rule": "judge", "reason": "low"}})
        for r in items
        if not r.meta["judge"]["passed"]
    ]
    project = review_project(tmp_path, "calib", judged, size=20, **{"unreviewed": "keep"})
    project.write_text(project.read_text() + "judge:\n  review_rejected: 0.3\n")
    run = Run(tmp_path / "outputs" / "penguin-wood" / "calib")
    write_jsonl(run.file("judge_rejected"), doubted)

    pushed = studio.review_push(project, run="calib", show_progress=False)
    assert pushed["counts"]["sampled"] == 20 and pushed["counts"]["judge_rejected"] == 6  # 0.3 of 20, blind
    ids = argilla_ids(owner, pushed["dataset"]["id"])
    by_id = {r.id: r for r in items}
    shown_rejects = [i for i in ids if not by_id[i].meta["judge"]["passed"]]
    assert len(shown_rejects) == 6

    # The reviewer accepts what the judge passed except its lowest pass, and rejects what it rejected except
    # the first one; the rating follows the judge's mean in order (a perfect rank agreement).
    rating = {m: n + 1 for n, m in enumerate(sorted(set(MEANS)))}
    rating = {m: min(5, v) for m, v in rating.items()}
    overruled = sorted(shown_rejects)[0]
    answers, people = [], {}
    for item_id in ids:
        mean = by_id[item_id].meta["judge"]["mean"]
        accept = (mean > 3.0) if by_id[item_id].meta["judge"]["passed"] else item_id == overruled
        people[item_id] = accept
        decision = "accept" if accept else "reject"
        answers.append(
            {"record_id": ids[item_id], "status": "submitted", "values": {"decision": decision, "rating": rating[mean]}}
        )
    reviewers[0].answer(answers)

    pulled = studio.review_pull(project, run="calib", show_progress=False)
    agreement = pulled["judge_agreement"]
    judge = {i: by_id[i].meta["judge"]["passed"] for i in ids}
    # Cohen's kappa from the 2x2 table, worked out here.
    n = len(ids)
    observed = sum(judge[i] == people[i] for i in ids) / n
    pj, pp = sum(judge.values()) / n, sum(people.values()) / n
    expected = pj * pp + (1 - pj) * (1 - pp)
    assert agreement["items"] == 20 and agreement["judge_rejected"] == 6 and agreement["overruled"] == 1
    assert agreement["agreement"] == round(observed, 4)
    assert agreement["kappa"] == pytest.approx((observed - expected) / (1 - expected), abs=1e-4)
    assert 0 < agreement["kappa"] < 1
    # Ratings 1..5 in the order of the judge's means, ties only where the means tie: Spearman is at most 1 and high.
    assert agreement["rated"] == 20 and agreement["spearman"] > 0.9

    reviewed = {r.id: r for r in read_records(run.file("reviewed"))}
    assert overruled in reviewed and reviewed[overruled].meta["review"]["overruled_judge"] is True
    assert reviewed[overruled].meta["review"]["decision"] == "accepted" and "rejected" not in reviewed[overruled].meta
    assert reviewed[overruled].meta["judge_rejected"]["rule"] == "judge"  # the judge's word stays as history
    assert not ({r.id for r in doubted} - {overruled}) & set(reviewed)  # the other rejects stay rejected
    assert pulled["counts"]["judge_overruled"] == 1

    page = studio.build_report(project, run="calib").read_text()
    assert "Judge and reviewers" in page and f'<td class="num">{agreement["kappa"]:.3f}</td>' in page
