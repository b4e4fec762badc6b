"""The dataset card (README.md of dataset/): what the data is, how it was made, what each stage kept, and
under which licence. Written from the project and the run's manifest; no secret is ever in either."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from studio.project import Project, Rule
from studio.records import Record
from studio.runs import Run, file_hash

# The Hub's task categories for what `train.task` tunes the data for.
TASK_CATEGORIES = {
    "text": ["text-generation"],
    "chat": ["text-generation", "question-answering"],
    "classification": ["text-classification"],
}


def size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return name
    return "100K<n<1M"


def made_by(
    project: Project, review_mode: str | None, reviewed: int | None, judge: dict[str, Any] | None = None
) -> str:
    """The checks the items went through, as this run's settings and manifest had them (off is not claimed)."""
    # Every switchable rule of the gate, in the project model's order: a rule added there is named here too.
    rules = [name.replace("_", " ") for name, rule in project.quality.clean if isinstance(rule, Rule) and rule.enabled]
    dedup = project.quality.dedup
    methods = [
        name
        for name, on in (
            ("exact", dedup.exact),
            ("MinHash", dedup.minhash.enabled),
            ("embedding", dedup.semantic.enabled),
        )
        if on
    ]
    steps = [
        "schema validation and cleaning"
        + (f" (filters: {', '.join(r.replace('pii', 'personal data') for r in rules)})" if rules else " (no filters)"),
        f"{', '.join(methods)} deduplication" if methods else "no deduplication",
    ]
    if judge:
        llm = judge.get("llm_judge")
        if project.quality.topic.enabled:
            steps.append("an on-topic check (sentence embeddings against the domain description)")
        if isinstance(llm, dict):
            steps.append(
                f"scores by an LLM judge (`{llm.get('model')}`, items below {project.judge.threshold:g} of 5 dropped)"
            )
    if reviewed:
        steps.append(f"human review in Argilla of {reviewed:,} items")
    elif review_mode in ("push", "wait"):
        steps.append("a sample sent to Argilla for human review, with no answers yet")
    else:
        steps.append("no human review")
    return ", ".join(steps[:-1]) + " and " + steps[-1]


def sampling(project: Project) -> str:
    s = project.sampling
    parts = [f"temperature {s.temperature:g}", f"top_p {s.top_p:g}", f"at most {s.max_tokens} tokens a reply"]
    if s.seed is not None:
        parts.append(f"seed {s.seed}")
    if s.text_pattern:
        parts.append("the text field decoded to a pattern")
    return "sampled at " + ", ".join(parts)


def removed(stages: dict[str, Any]) -> list[tuple[str, str, int]]:
    """What each stage took out, by rule or method, from the run's manifest (a rule that took nothing out is
    not listed)."""
    out: list[tuple[str, str, int]] = []
    gen = stages.get("generate", {}).get("counts", {})
    if gen.get("planned") is not None and gen.get("accepted") is not None:
        out.append(
            ("generate", "no reply valid against the schema, after a repair request", gen["planned"] - gen["accepted"])
        )
    for rule, n in (stages.get("validate", {}).get("counts", {}).get("by_rule") or {}).items():
        out.append(("validate", rule.replace("_", " "), n))
    for method, n in (stages.get("dedup", {}).get("counts", {}).get("by_method") or {}).items():
        out.append(("dedup", f"{method} duplicate", n))
    judge = stages.get("judge", {}).get("counts", {})
    for rule, label in (("off_topic", "off topic"), ("off_label", "off label"), ("judge", "LLM judge's score")):
        out.append(("judge", label, judge.get(rule, 0)))
    review = stages.get("review", {}).get("counts", {})
    out.append(("review", "rejected by reviewers or by the unreviewed-items policy", review.get("rejected", 0)))
    return [row for row in out if row[2]]


def judge_lines(figures: dict[str, Any] | None) -> list[str]:
    """How far the LLM judge agreed with the reviewers, when both looked at the same items."""
    if not figures or not figures.get("items"):
        return []
    kappa, rho = figures.get("kappa"), figures.get("spearman")
    return [
        f"- The LLM judge against the reviewers, on {figures['items']} items ({figures['judge_rejected']} of them "
        f"rejected by the judge and shown blind): they agreed on {figures['agreement']:.0%}"
        + (f", Cohen's kappa {kappa:.2f}" if kappa is not None else "")
        + (f", Spearman {rho:.2f} between its score and their rating" if rho is not None else "")
        + f"; reviewers took back {figures['overruled']} of its rejects."
    ]


def write(folder: Path, project: Project, run: Run, records: list[Record], info: dict[str, Any]) -> Path:
    stages = run.manifest().get("stages", {})
    gen = stages.get("generate", {})
    templates = Counter((r.meta.get("template"), r.meta.get("template_hash")) for r in records)
    kinds = Counter(str(r.data.get("kind", "")) for r in records)
    funnel = [
        ("planned", gen.get("counts", {}).get("planned")),
        ("generated and valid against the schema", gen.get("counts", {}).get("accepted")),
        ("valid after cleaning", stages.get("validate", {}).get("counts", {}).get("valid")),
        ("unique", stages.get("dedup", {}).get("counts", {}).get("unique")),
        ("past the judge (on topic, on label, scored)", stages.get("judge", {}).get("counts", {}).get("kept")),
        ("curated (accepted in review or kept unreviewed)", len(records)),
    ]
    review = stages.get("review", {})
    review_mode = review.get("mode")
    reviewed = review.get("counts", {}).get("reviewed")
    header = {
        "license": project.share.license,
        "language": [project.quality.clean.language.language],
        "pretty_name": f"{project.domain.title} (synthetic)",
        "size_categories": [size_category(len(records))],
        "task_categories": TASK_CATEGORIES[project.train.task],
        "tags": ["synthetic", "studio"],
        # What the Hub (and `datasets.load_dataset` on this folder) reads the splits from.
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in info["splits"]],
            }
        ],
    }
    lines = [
        "---",
        *(f"{k}: {json.dumps(v)}" for k, v in header.items()),
        "---",
        "",
        f"# {project.domain.title}: a synthetic dataset",
        "",
        project.domain.description,
        "",
        "## How it was made",
        "",
        f"- Generated by `{gen.get('model', '?')}` ({gen.get('endpoint', '?')} endpoint, structured output "
        f"`{gen.get('structured_output', '?')}`), {sampling(project)}.",
        f"- Schema: `{project.schema_path.name}` (sha256 {file_hash(project.schema_path)}); every item is valid "
        "against it.",
        "- Prompt templates (name, content hash, items):",
        *(f"  - `{name}` `{digest}`: {n}" for (name, digest), n in templates.most_common()),
        f"- Diversity axes: {', '.join(project.axes)}.",
        f"- Then: {made_by(project, review_mode, reviewed, stages.get('judge'))}.",
        "",
        "## What each stage kept",
        "",
        "| stage | items |",
        "|---|---:|",
        *(f"| {label} | {n:,} |" for label, n in funnel if n is not None),
        "",
        "## What was removed, and why",
        "",
        "| stage | reason | items |",
        "|---|---|---:|",
        *(f"| {stage} | {why} | {n:,} |" for stage, why, n in removed(stages)),
        "",
    ]
    if reviewed:
        decision = (review.get("agreement") or {}).get("decision") or {}
        alpha, pairwise = decision.get("alpha"), decision.get("pairwise")
        # With one reviewer a record there are no pairs: no agreement to state, and none is made up.
        agreement = (
            f"- Agreement on the decision: {pairwise:.0%} of reviewer pairs agreed"
            + (f" (Krippendorff's alpha {alpha:.2f})." if alpha is not None else ".")
            if pairwise is not None
            else "- Each record had one reviewer: there is no agreement between reviewers to report."
        )
        lines += [
            "## Review",
            "",
            f"- {reviewed:,} items were reviewed by people; {review['acceptance_rate']:.0%} of them were accepted.",
            agreement,
            *judge_lines(review.get("judge_agreement")),
            "",
        ]
    elif review_mode:
        lines += ["## Review", "", f"Review mode `{review_mode}`: no item was reviewed by people.", ""]
    lines += [
        "## Contents",
        "",
        "| split | items |",
        "|---|---:|",
        *(f"| {s} | {n:,} |" for s, n in info["splits"].items()),
        "",
        "Kinds: " + ", ".join(f"{k} ({n})" for k, n in kinds.most_common()) + ".",
        "",
        "Files: `data/<split>.parquet` (what `datasets.load_dataset` reads), `data.parquet` (every split, for "
        "pandas) and `hf/` (`datasets.load_from_disk`), typed as the schema says: objects as structs, lists, "
        "integers, numbers; `data.jsonl` (studio records: id, data, meta) and `openai_chat_<split>.jsonl` for "
        "OpenAI's fine-tuning API.",
        "",
        f"Columns: {', '.join(f'`{c}`' for c in info['columns'])}. `meta` holds each item's id, split, axis "
        "values, template, generator, judge scores and review outcome (who reviewed is not shared).",
        "",
        "## Licence and limitations",
        "",
        f"Released under `{project.share.license}`. The items are synthetic: written by `{gen.get('model', '?')}` "
        "from templates, then filtered. Facts in them are only as true as the domain description given to "
        "the model, and a small model writes fluent but sometimes confused text. "
        + (
            f"People reviewed {reviewed:,} of the items; the other {max(0, len(records) - reviewed):,} curated items "
            "were checked by the automatic stages only."
            if reviewed
            else "No person reviewed these items: they were checked by the automatic stages only."
        ),
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
