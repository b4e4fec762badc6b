"""The pull half of review: reviewers' answers from Argilla back into the run, as 04-reviewed.jsonl.

Input: 03-judged.jsonl (and 03-judge-rejected.jsonl) and the run's Argilla dataset. Output: 04-reviewed.jsonl,
in which every item of 03-judged ends accepted or rejected with a reason in meta["review"] (and, if rejected,
meta["rejected"]), followed by the items the LLM judge rejected that the reviewers accepted (people overrule it):
- answered items are decided by their reviewers (consensus.py); a correction is applied and validated
  against the domain schema again, and one that does not fit is reported and not used;
- items nobody answered (pushed or not) follow review.unreviewed: keep, drop, or keep only if the
  reviewed items' acceptance rate reached review.min_acceptance.
The manifest's `review` entry holds the counts, the ties, the invalid corrections, the agreement figures per
question, and the judge's agreement with the reviewers (Cohen's kappa, Spearman). With `wait`, the stage
first polls Argilla until a share of the sample is reviewed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import Project
from studio.records import Record, read_records, write_jsonl
from studio.review.client import Argilla
from studio.review.connection import connect
from studio.review.consensus import ACCEPT, Answer, Verdict, agreement, judge_agreement, resolve
from studio.review.dataset import CORRECTION, DECISION, RATING, dataset_name
from studio.review.push import judge_rejects, judge_sources
from studio.review.sample import judge_mean
from studio.runs import Run
from studio.schema import DomainSchema
from studio.stage import Context, Outcome, Stage, progress_bar

Say = Callable[[str], None]


def find_dataset(client: Argilla, project: Project, run: Run) -> dict[str, Any]:
    name = dataset_name(project, run.name)
    workspace = client.workspace(project.review.workspace, create=False)
    dataset = client.dataset(workspace["id"], name)
    if dataset is None:
        raise StudioError(
            f"no Argilla dataset {name!r} in workspace {project.review.workspace!r}: run `studio review push` first",
            client.api_url,
        )
    return dataset


def answers_of(record: dict[str, Any], users: dict[str, str]) -> list[Answer]:
    """The submitted and discarded responses of an Argilla record (drafts are work in progress)."""
    out = []
    for response in record.get("responses") or []:
        if response["status"] not in ("submitted", "discarded"):
            continue
        values = {name: (v or {}).get("value") for name, v in (response.get("values") or {}).items()}
        correction, rating = values.get(CORRECTION), values.get(RATING)
        out.append(
            Answer(
                user=users.get(response["user_id"], response["user_id"]),
                status=response["status"],
                decision=values.get(DECISION),
                rating=int(rating) if isinstance(rating, int | float) else None,
                correction=correction.strip() if isinstance(correction, str) and correction.strip() else None,
                answered_at=response.get("updated_at"),
            )
        )
    return sorted(out, key=lambda a: a.answered_at or "")


def apply_correction(data: dict[str, Any], correction: str, text_field: str) -> dict[str, Any]:
    """Plain text replaces the text; a JSON object changes the attributes it names (nested ones too)."""
    if not correction.startswith("{"):
        return {**data, text_field: correction}
    try:
        patch = json.loads(correction)
    except json.JSONDecodeError as e:
        raise ValueError(f"starts like JSON but is not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(patch, dict):
        raise ValueError("a JSON correction must be an object")
    return _apply_patch(data, patch)


def _apply_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _apply_patch(out[key], value) if nested else value
    return out


def count_reviewed(client: Argilla, dataset_id: str, min_reviewers: int) -> tuple[int, int]:
    """(records with at least `min_reviewers` answers, records in the dataset)."""
    reviewed = total = 0
    for record in client.records(dataset_id):
        total += 1
        answered = sum(r["status"] in ("submitted", "discarded") for r in record.get("responses") or [])
        reviewed += answered >= min_reviewers
    return reviewed, total


def wait_for_reviews(
    client: Argilla, dataset_id: str, project: Project, target: float, timeout: float, show_progress: bool, say: Say
) -> dict[str, Any]:
    cfg = project.review
    started = time.monotonic()
    reviewed, total = count_reviewed(client, dataset_id, cfg.min_reviewers)
    needed = math.ceil(target * total)
    say(f"waiting until {needed} of {total} record(s) are reviewed (timeout {timeout:.0f} s); Ctrl-C stops waiting")
    with progress_bar(total, "reviewed", show_progress, initial=reviewed, unit="record", dynamic_ncols=False) as bar:
        while reviewed < needed and time.monotonic() - started < timeout:
            time.sleep(min(cfg.poll_s, max(0.0, timeout - (time.monotonic() - started))))
            reviewed, total = count_reviewed(client, dataset_id, cfg.min_reviewers)
            bar.n = reviewed
            bar.refresh()
    return {
        "target": target,
        "reviewed": reviewed,
        "total": total,
        "reached": reviewed >= needed,
        "seconds": round(time.monotonic() - started, 1),
    }


def run_pull(
    project: Project,
    run: Run,
    client: Argilla,
    wait: bool = False,
    target: float | None = None,
    timeout: float | None = None,
    show_progress: bool = True,
    say: Say = print,
) -> tuple[list[Record], dict[str, Any]]:
    """Every judged item decided from the reviewers' answers (and review.unreviewed), and the figures."""
    cfg = project.review
    started = time.monotonic()
    unique = read_records(run.file("judged"))
    doubted = judge_rejects(run)
    schema = DomainSchema.load(project.schema_path)
    dataset = find_dataset(client, project, run)
    waited = None
    if wait:
        target = target if target is not None else cfg.wait_target
        timeout = timeout if timeout is not None else cfg.wait_timeout_s
        waited = wait_for_reviews(client, dataset["id"], project, target, timeout, show_progress, say)
    t0 = time.monotonic()
    users = client.users()
    answers = {r["external_id"]: answers_of(r, users) for r in client.records(dataset["id"]) if r.get("external_id")}
    fetch_seconds = time.monotonic() - t0

    verdicts = {r.id: resolve(answers[r.id], cfg.consensus, cfg.tie) for r in unique if answers.get(r.id)}
    accepted = sum(v.decision == ACCEPT for v in verdicts.values())
    acceptance = round(accepted / len(verdicts), 4) if verdicts else None
    name = dataset_name(project, run.name)
    out = [decide(r, verdicts.get(r.id), r.id in answers, acceptance, project, schema, name) for r in unique]
    # The judge's rejects the reviewers saw: their verdicts measure the judge; an accepted one is taken back.
    blind = {r.id: resolve(answers[r.id], cfg.consensus, cfg.tie) for r in doubted if answers.get(r.id)}
    for r in doubted:
        if r.id in blind and blind[r.id].decision == ACCEPT:
            taken = decide(
                Record(r.id, r.data, without_rejection(r.meta)), blind[r.id], True, acceptance, project, schema, name
            )
            taken.meta["review"]["overruled_judge"] = True
            out.append(taken)
    scored = [(r, verdicts.get(r.id) or blind.get(r.id)) for r in [*unique, *doubted]]
    judged_pairs = [
        (r.meta["judge"]["passed"], v.decision == ACCEPT, judge_mean(r.meta), v.rating)
        for r, v in scored
        if v is not None and judge_mean(r.meta) is not None
    ]

    reviews = [r.meta["review"] for r in out]
    pushed = sum(1 for r in unique if r.id in answers)
    result = {
        "counts": {
            "judged": len(unique),
            "pushed": pushed,
            # In Argilla but no longer in 03-judged (nor a judge's reject shown blind).
            "stale": len(answers) - pushed - sum(1 for r in doubted if r.id in answers),
            "reviewed": len(verdicts),
            "accepted": sum(v["decision"] == "accepted" for v in reviews),
            "rejected": sum(v["decision"] == "rejected" for v in reviews),
            "ties": sum(v.tie for v in verdicts.values()),
            "corrected": sum(bool(v.get("corrected")) for v in reviews),
            "invalid_corrections": sum("correction_error" in v for v in reviews),
            "corrections_disagree": sum(v.corrections_disagree for v in verdicts.values()),
            "unreviewed": len(unique) - len(verdicts),
            "judge_overruled": sum(1 for r in out if r.meta["review"].get("overruled_judge")),
        },
        "acceptance_rate": acceptance,
        "agreement": agreement([answers[i] for i in verdicts]),
        "judge_agreement": judge_agreement(judged_pairs) if judged_pairs else None,
        "ties": [i for i, v in verdicts.items() if v.tie],
        "invalid_corrections": [
            {"id": r.id, "error": r.meta["review"]["correction_error"]}
            for r in out
            if "correction_error" in r.meta["review"]
        ],
        "wait": waited,
        "dataset": {"name": name, "id": dataset["id"], "api_url": client.api_url},
        "policy": {
            "consensus": cfg.consensus,
            "tie": cfg.tie,
            "unreviewed": cfg.unreviewed,
            "min_acceptance": cfg.min_acceptance,
        },
        "seconds": round(time.monotonic() - started, 2),
        "records_per_s": round(len(answers) / fetch_seconds, 1) if fetch_seconds > 0 else None,
    }
    return out, result


def decide(
    record: Record,
    verdict: Verdict | None,
    pushed: bool,
    acceptance: float | None,
    project: Project,
    schema: DomainSchema,
    dataset: str,
) -> Record:
    """The item with its decision and reason in meta["review"] (and meta["rejected"] if rejected)."""
    cfg = project.review
    data = record.data
    if verdict is None:
        accepted, reason = unreviewed_policy(project, acceptance)
        review: dict[str, Any] = {"by": "policy", "pushed": pushed}
    else:
        accepted, reason = verdict.decision == ACCEPT, _reason(verdict, cfg.consensus)
        review = {"by": "reviewers", "pushed": True, **_verdict_meta(verdict)}
        if accepted and verdict.correction and verdict.correction != data.get(cfg.text_field):
            try:
                corrected = apply_correction(data, verdict.correction, cfg.text_field)
                error = schema.first_error(corrected)
            except ValueError as e:
                error = str(e)
            if error is None:
                review.update(corrected=True, original=data)
                data = corrected
            else:
                review.update(corrected=False, correction_error=error)
    decision = "accepted" if accepted else "rejected"
    meta = {**record.meta, "review": {"decision": decision, "reason": reason, "dataset": dataset, **review}}
    if not accepted:
        rule = "reviewers" if verdict is not None else f"unreviewed:{cfg.unreviewed}"
        meta["rejected"] = {"stage": "review", "rule": rule, "reason": reason}
    return Record(record.id, data, meta)


def without_rejection(meta: dict[str, Any]) -> dict[str, Any]:
    """An item's meta with its rejection kept as history (`judge_rejected`), no longer as its state."""
    return {**{k: v for k, v in meta.items() if k != "rejected"}, "judge_rejected": meta.get("rejected")}


def unreviewed_policy(project: Project, acceptance: float | None) -> tuple[bool, str]:
    cfg = project.review
    if cfg.unreviewed == "keep":
        return True, "not reviewed; kept (review.unreviewed: keep)"
    if cfg.unreviewed == "drop":
        return False, "not reviewed; dropped (review.unreviewed: drop)"
    if acceptance is None:
        return False, "not reviewed, and no reviewed item to judge the batch by (review.unreviewed: keep_if_passed)"
    if acceptance >= cfg.min_acceptance:
        return True, f"not reviewed; the reviewed items passed (acceptance {acceptance:.2f} >= {cfg.min_acceptance})"
    return False, f"not reviewed; the reviewed items failed (acceptance {acceptance:.2f} < {cfg.min_acceptance})"


def _reason(verdict: Verdict, rule: str) -> str:
    v = verdict.votes
    tally = f"{v[ACCEPT]} accept, {v['reject']} reject" + (f" ({v['discarded']} discarded)" if v["discarded"] else "")
    if verdict.tie:
        return f"reviewers tied ({tally}); ties are decided as {verdict.decision}"
    word = "accepted" if verdict.decision == ACCEPT else "rejected"
    return f"{word} by reviewers ({tally}; {rule})"


def _verdict_meta(verdict: Verdict) -> dict[str, Any]:
    return {
        "votes": verdict.votes,
        "tie": verdict.tie,
        "rating": verdict.rating,
        "correction": verdict.correction,
        "corrections_disagree": verdict.corrections_disagree,
        "reviewers": verdict.reviewers,
    }


def unreviewed(unique: list[Record], reason: str) -> list[Record]:
    """Every item kept and marked as not reviewed (review.mode none, or push before anyone answered)."""
    return [
        Record(r.id, r.data, {**r.meta, "review": {"decision": "accepted", "by": "none", "reason": reason}})
        for r in unique
    ]


class ReviewStage(Stage):
    """Every item of 03-judged.jsonl decided, into 04-reviewed.jsonl. `mode`: none (all kept, marked
    unreviewed); push (the reviewers' decisions so far; while nobody has answered, all kept and marked so
    the run goes on); wait (first wait for review.wait_target of the sample); pull (the decisions as they
    stand, review.unreviewed deciding the rest)."""

    name = "review"
    command = "studio review pull"
    inputs = ("judged",)
    outputs = ("reviewed",)

    def sources(self, project: Project, run: Run) -> list[Path]:
        return judge_sources(run)

    def __init__(self, mode: str, target: float | None = None, timeout: float | None = None):
        self.mode, self.target, self.timeout = mode, target, timeout

    def settings(self, project: Project) -> Any:
        cfg = project.review
        policy = cfg.model_dump(mode="json", include={"consensus", "tie", "unreviewed", "min_acceptance"})
        return {"mode": self.mode, "policy": policy, "schema": DomainSchema.load(project.schema_path).schema}

    def volatile(self, project: Project) -> bool:
        return self.mode != "none"  # the answers live in Argilla

    def run(self, ctx: Context) -> Outcome:
        unique = read_records(ctx.input("judged"))
        if self.mode == "none":
            write_jsonl(ctx.output("reviewed"), unreviewed(unique, "not reviewed (review.mode: none)"))
            return Outcome({"judged": len(unique), "unreviewed": len(unique)}, details={"mode": self.mode})
        with connect(ctx.project.review, ctx.say) as client:
            out, result = run_pull(
                ctx.project,
                ctx.run,
                client,
                wait=self.mode == "wait",
                target=self.target,
                timeout=self.timeout,
                show_progress=ctx.show_progress,
                say=ctx.say,
            )
        if self.mode == "push" and not result["counts"]["reviewed"]:
            reason = "nobody has reviewed yet (review.mode: push): kept; `studio review pull` brings the decisions in"
            out = unreviewed(unique, reason)
            result["counts"].update(accepted=len(out), rejected=0)
        write_jsonl(ctx.output("reviewed"), out)
        return Outcome(result.pop("counts"), details={"mode": self.mode, **result})
