"""The push half of review: a sample of 03-judged.jsonl into the run's Argilla dataset.

Input: 03-judged.jsonl, and 03-judge-rejected.jsonl for a share of the sample (judge.review_rejected) given to
items the LLM judge rejected: reviewers see them blind, so the judge's agreement with people can be measured,
and an item they accept is taken back. Output: the Argilla dataset `<domain>-<run>` (created with studio's settings if
new) and the `push` entry of the manifest. Records are upserted by studio id in batches, so a push
that died half-way (a killed server, a lost connection) is finished by pushing again, and a second push
updates records (answers already given stay) instead of adding copies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import Project
from studio.records import Record, read_records
from studio.review.client import Argilla
from studio.review.connection import connect
from studio.review.dataset import dataset_name, ensure_dataset, to_argilla
from studio.review.sample import choose, doubt
from studio.runs import Run
from studio.stage import Context, Outcome, Stage, progress_bar

BATCH = 100  # records per bulk request (Argilla accepts up to 500; smaller batches lose less to a crash)
DEFAULT_SIZE = 100


def sample_size(total: int, size: int | None, fraction: float | None) -> int:
    if fraction is not None:
        return min(total, max(1, round(total * fraction)))
    return min(total, size or DEFAULT_SIZE)


def stratify_axes(project: Project) -> list[str]:
    axes = project.review.stratify if project.review.stratify is not None else list(project.axes)[:1]
    for i, axis in enumerate(axes):
        if axis not in project.axes:
            raise StudioError(f"'{axis}' is not an axis", None, f"review.stratify[{i}]")
    return axes


def run_push(
    project: Project,
    run: Run,
    client: Argilla,
    size: int | None = None,
    fraction: float | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    cfg = project.review
    if size is None and fraction is None:
        size, fraction = cfg.size, cfg.fraction
    started = time.monotonic()
    judged = read_records(run.file("judged"))
    doubted = judge_rejects(run)
    axes = stratify_axes(project)
    n = sample_size(len(judged) + len(doubted), size, fraction)
    blind = min(len(doubted), round(n * project.judge.review_rejected)) if judged else min(len(doubted), n)
    sample = choose(doubted, blind, axes, 0.0, cfg.seed)
    sample += choose(judged, n - len(sample), axes, cfg.borderline, cfg.seed)

    return _push(project, run, client, judged, sample, axes, size, fraction, started, show_progress)


def judge_sources(run: Run) -> list[Path]:
    """What review reads: the judged items, and the judge's rejects when the judge wrote them."""
    return [run.file("judged"), *([run.file("judge_rejected")] if run.file("judge_rejected").exists() else [])]


def judge_rejects(run: Run) -> list[Record]:
    """The items the LLM judge rejected (not those the embedding checks did: they are far off, not doubtful)."""
    path = run.file("judge_rejected")
    return [r for r in read_records(path) if r.meta["rejected"].get("rule") == "judge"] if path.exists() else []


def _push(
    project: Project,
    run: Run,
    client: Argilla,
    judged: list[Record],
    sample: list[Record],
    axes: list[str],
    size: int | None,
    fraction: float | None,
    started: float,
    show_progress: bool,
) -> dict[str, Any]:
    cfg = project.review
    workspace = client.workspace(cfg.workspace)
    name = dataset_name(project, run.name)
    dataset = ensure_dataset(client, project, workspace["id"], name, cfg.min_reviewers)
    question_ids = {q["name"]: q["id"] for q in client.get(f"/datasets/{dataset['id']}/questions")["items"]}

    # Argilla's bulk answer does not say which records were updated: look first.
    before = {r.get("external_id") for r in client.records(dataset["id"], include=())}
    updated = sum(1 for r in sample if r.id in before)
    t0 = time.monotonic()
    with progress_bar(len(sample), "push", show_progress) as bar:
        for i in range(0, len(sample), BATCH):
            batch = sample[i : i + BATCH]
            items = [to_argilla(r, cfg.text_field, question_ids) for r in batch]
            client.put(f"/datasets/{dataset['id']}/records/bulk", {"items": items})
            bar.update(len(batch))
    push_seconds = time.monotonic() - t0
    in_dataset = client.get(f"/datasets/{dataset['id']}/records", limit=1)["total"]

    result = {
        "counts": {
            "judged": len(judged),
            "sampled": len(sample),
            "judge_rejected": sum(1 for r in sample if "rejected" in r.meta),
            "borderline": sum(1 for r in sample if doubt(r.meta) > 0),
            "created": len(sample) - updated,
            "updated": updated,
            "in_dataset": in_dataset,
        },
        "dataset": {
            "name": name,
            "id": dataset["id"],
            "workspace": cfg.workspace,
            "api_url": client.api_url,
            "url": f"{client.api_url}/dataset/{dataset['id']}/annotation-mode",
        },
        "sample": {
            "size": size,
            "fraction": fraction,
            "stratify": axes,
            "borderline": cfg.borderline,
            "seed": cfg.seed,
        },
        "seconds": round(time.monotonic() - started, 2),
        "records_per_s": round(len(sample) / push_seconds, 1) if push_seconds > 0 else None,
    }
    return result


class PushStage(Stage):
    """A sample of 03-judged.jsonl into the run's Argilla dataset (review.mode push or wait)."""

    name = "push"
    command = "studio review push"
    inputs = ("judged",)

    def sources(self, project: Project, run: Run) -> list[Path]:
        return judge_sources(run)

    def __init__(self, size: int | None = None, fraction: float | None = None):
        self.size, self.fraction = size, fraction

    def settings(self, project: Project) -> Any:
        cfg = project.review
        return {
            "size": self.size,
            "fraction": self.fraction,
            "review": cfg.model_dump(mode="json", include={"size", "fraction", "stratify", "borderline", "seed"}),
            "review_rejected": project.judge.review_rejected,
            "where": [cfg.api_url, cfg.workspace, cfg.min_reviewers],
        }

    def run(self, ctx: Context) -> Outcome:
        with connect(ctx.project.review, ctx.say) as client:
            result = run_push(ctx.project, ctx.run, client, self.size, self.fraction, ctx.show_progress)
        details = {k: result[k] for k in ("dataset", "sample", "records_per_s")}
        return Outcome(result["counts"], details=details)
