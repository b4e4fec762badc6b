"""The run report: one self-contained report.html (plots embedded as PNG) that shows what happened at every
step. Every text that came from an LLM or a reviewer is escaped: a generated `<script>` stays text.

It reads only the run folder (the manifest and the stage files), so `studio report RUN` rebuilds it at any
time, and a stage that has not run shows as such.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from studio.project import Project
from studio.records import BadLine, replace_atomically, scan_jsonl
from studio.runs import Run
from studio.stage import Context, Outcome, Stage

EXAMPLES = 3  # example items shown per rejection reason
TEXT_CUT = 400


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def cut(text: Any, n: int = TEXT_CUT) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [row for _, row in scan_jsonl(path) if not isinstance(row, BadLine)]


def preview_text(row: dict[str, Any]) -> str:
    data = row.get("data") or {}
    return str(data.get("text") or data.get("question") or json.dumps(data, ensure_ascii=False))


def table(headers: list[str], body: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for r in body:
        cells = "".join(f'<td class="{"num" if i in numeric else ""}">{esc(c)}</td>' for i, c in enumerate(r))
        lines.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def figure(fig: Any, alt: str) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def not_run(stage: str, command: str) -> str:
    return f'<p class="muted">The {esc(stage)} stage has not run for this run (<code>{esc(command)}</code>).</p>'


def fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:,.3f}" if abs(x) < 100 else f"{x:,.1f}"
    if isinstance(x, int):
        return f"{x:,}"
    return "" if x is None else str(x)


# The sections.
def funnel(run: Run, stages: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    steps: list[tuple[str, int | None]] = [("planned", stages.get("generate", {}).get("counts", {}).get("planned"))]
    for label, key in [("generated", "generated"), ("valid", "valid"), ("unique", "unique"), ("judged", "judged")]:
        path = run.file(key)
        steps.append((label, len(rows(path)) if path.exists() else None))
    reviewed = rows(run.file("reviewed"))
    if reviewed:
        steps.append(
            ("accepted in review", sum(r["meta"].get("review", {}).get("decision") == "accepted" for r in reviewed))
        )
    if run.file("curated").exists():
        steps.append(("curated", len(rows(run.file("curated")))))
    tune = stages.get("tune", {})
    for split in ("train", "validation", "test"):
        n = tune.get("counts", {}).get(split)
        if n is not None:
            steps.append((f"{split} split", n))
    present = [(label, n) for label, n in steps if n is not None]
    if not present:
        return "<p>Nothing has run yet.</p>"
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(present) + 0.6))
    labels, values = zip(*present, strict=True)
    ax.barh(range(len(values)), values, color="#3b6ea5")
    ax.set_yticks(range(len(values)), labels)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,}", va="center")
    ax.set_xlabel("items")
    ax.spines[["top", "right"]].set_visible(False)
    return figure(fig, "funnel") + table(["step", "items"], [[label, fmt(n)] for label, n in present], {1})


def rejections(run: Run) -> str:
    parts = []
    for key, stage in [
        ("rejected", "generate"),
        ("invalid", "validate and clean"),
        ("duplicates", "dedup"),
        ("judge_rejected", "judge"),
        ("reviewed", "review"),
    ]:
        dropped = [r for r in rows(run.file(key)) if (r.get("meta") or {}).get("rejected")]
        if not dropped:
            continue
        reasons: Counter[str] = Counter()
        examples: dict[str, list[str]] = {}
        for r in dropped:
            rej = r["meta"]["rejected"]
            reason = str(rej.get("rule") or rej.get("reason") or "unknown")
            reason = reason if len(reason) <= 90 else reason[:89] + "…"
            reasons[reason] += 1
            examples.setdefault(reason, [])
            if len(examples[reason]) < EXAMPLES:
                # A rule's reason beside the item it dropped, so the reader can judge the rule.
                shown = f"{rej.get('reason')} | {preview_text(r)}" if rej.get("rule") else r["meta"].get("raw")
                examples[reason].append(cut(shown or preview_text(r), 300))
        items = "".join(
            f"<li><b>{esc(reason)}</b>: {n:,}<ul>{''.join(f'<li class=example>{esc(e)}</li>' for e in shown)}</ul></li>"
            for reason, n in reasons.most_common(8)
            for shown in [examples[reason]]
        )
        parts.append(f"<h3>{esc(stage)}: {len(dropped):,} dropped</h3><ol>{items}</ol>")
    return "".join(parts) or "<p>No item was dropped.</p>"


def distributions(run: Run) -> str:
    import matplotlib.pyplot as plt

    source = next(
        (run.file(k) for k in ("curated", "judged", "unique", "valid", "generated") if run.file(k).exists()), None
    )
    items = rows(source) if source else []
    if not items:
        return "<p>No items yet.</p>"
    lengths = [len(str((r.get("data") or {}).get("text", ""))) for r in items]
    axes: dict[str, Counter[str]] = {}
    for r in items:
        for axis, value in ((r.get("meta") or {}).get("axes") or {}).items():
            axes.setdefault(axis, Counter())[str(value)] += 1
    shown = [a for a in axes if len(axes[a]) <= 20][:6]
    fig, grid = plt.subplots(1, 1 + len(shown), figsize=(3.2 * (1 + len(shown)), 2.8), squeeze=False)
    grid[0][0].hist(lengths, bins=20, color="#3b6ea5")
    grid[0][0].set_title("text length (characters)")
    for ax, axis in zip(grid[0][1:], shown, strict=True):
        counts = axes[axis].most_common()
        ax.barh([cut(k, 24) for k, _ in counts], [v for _, v in counts], color="#6a9f58")
        ax.invert_yaxis()
        ax.set_title(f"items per {axis}")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return f"<p>{len(items):,} items in <code>{esc(source.name)}</code>.</p>" + figure(fig, "distributions")


def duplicates(run: Run, stages: dict[str, Any]) -> str:
    dropped = rows(run.file("duplicates"))
    if not dropped:
        return not_run("dedup", "studio dedup") if "dedup" not in stages else "<p>No duplicates.</p>"
    kept = {r["id"]: r for key in ("valid", "unique") for r in rows(run.file(key))}
    body = []
    for r in dropped[:12]:
        rej = r["meta"]["rejected"]
        twin = kept.get(rej.get("twin"))
        body.append(
            [
                cut(preview_text(r), 200),
                cut(preview_text(twin), 200) if twin else rej.get("twin", ""),
                rej.get("rule") or rej.get("measure", ""),
                fmt(rej.get("similarity")),
            ]
        )
    counts = stages.get("dedup", {}).get("counts", {})
    summary = ", ".join(f"{k}: {fmt(v)}" for k, v in counts.items() if not isinstance(v, dict))
    return f"<p>{esc(summary)}</p>" + table(["dropped item", "kept twin", "method", "similarity"], body, {3})


def judging(run: Run, stages: dict[str, Any]) -> str:
    """The embedding checks' distribution and threshold, the LLM judge's scores, and how far the judge agrees
    with the reviewers."""
    import matplotlib.pyplot as plt

    entry = stages.get("judge") or {}
    agreement = (stages.get("review") or {}).get("judge_agreement")
    if not entry and not agreement:
        return not_run("judge", "studio judge")
    parts = [f"<p>{esc(', '.join(f'{k}: {fmt(v)}' for k, v in entry.get('counts', {}).items()))}</p>"]
    llm = entry.get("llm_judge")
    if llm:
        parts.append(f"<p>LLM judge: {esc(llm if isinstance(llm, str) else llm.get('model'))}</p>")
    judged = rows(run.file("judged")) + rows(run.file("judge_rejected"))
    means = [m for r in judged if isinstance(m := ((r.get("meta") or {}).get("judge") or {}).get("mean"), int | float)]
    topic = entry.get("topic")
    plots = [p for p in (topic, means or None) if p]
    if plots:
        fig, grid = plt.subplots(1, len(plots), figsize=(4.2 * len(plots), 2.8), squeeze=False)
        ax = grid[0][0]
        if topic:
            edges, counts = topic["histogram"]["edges"], topic["histogram"]["counts"]
            ax.bar(edges[:-1], counts, width=edges[1] - edges[0], align="edge", color="#3b6ea5")
            ax.axvline(topic["threshold"], color="#b03a2e", linestyle="--", label=f"threshold {topic['threshold']:.2f}")
            ax.set_title("similarity to the domain")
            ax.legend(fontsize=7)
            ax = grid[0][-1]
        if means:
            ax.hist(means, bins=[1 + 0.25 * i for i in range(17)], color="#6a9f58")
            ax.set_title("judge's mean score")
        fig.tight_layout()
        parts.append(figure(fig, "judge"))
    if topic:
        parts.append(table(["similarity", "value"], [[k, fmt(v)] for k, v in topic["quantiles"].items()], {1}))
    if agreement:
        parts.append("<h3>Judge and reviewers</h3>")
        parts.append(table(["figure", "value"], [[k.replace("_", " "), fmt(v)] for k, v in agreement.items()], {1}))
    return "".join(parts)


def diversity(stages: dict[str, Any]) -> str:
    d = stages.get("dedup", {}).get("diversity")
    if not d:
        return not_run("dedup", "studio dedup")
    figures = [[k.replace("_", " "), fmt(v)] for k, v in d.items() if not isinstance(v, dict)]
    parts = [table(["figure", "value"], figures, {1})]
    if fields := d.get("field_values"):
        parts.append("<h3>Short fields: the value most kept items hold</h3>")
        parts.append(
            "<p>A share near 1 in a field meant to vary is a generator repeating itself (often its prompt's example "
            "or bound), which no single item shows.</p>"
        )
        rows = [
            [path, fmt(f["items"]), fmt(f["distinct"]), str(f["top"]), f"{f['share']:.0%}"]
            for path, f in fields.items()
        ]
        parts.append(table(["field", "items", "distinct values", "most common", "its share"], rows, {1, 2, 4}))
    return "".join(parts)


def cost_and_time(stages: dict[str, Any]) -> str:
    body = []
    for name, s in stages.items():
        tokens = s.get("tokens") if isinstance(s.get("tokens"), dict) else {}
        body.append(
            [
                name,
                fmt(s.get("seconds")),
                fmt(tokens.get("in")),
                fmt(tokens.get("out")),
                "" if s.get("cost_usd") is None else f"${s['cost_usd']:.4f}",
                "complete" if s.get("complete", True) else "incomplete",
                s.get("recorded_at", ""),
            ]
        )
    return table(["stage", "seconds", "tokens in", "tokens out", "cost", "state", "recorded"], body, {1, 2, 3})


def review(stages: dict[str, Any]) -> str:
    push = stages.get("push")
    pull = stages.get("review")
    if pull and pull.get("mode") == "none":
        return "<p>Review mode <b>none</b>: items went on unreviewed.</p>"
    if not pull and not push:
        return not_run("review", "studio review push / pull")
    parts = []
    if push:
        parts.append(
            f"<p>Pushed {fmt(push.get('counts', {}).get('sampled', ''))} items to Argilla dataset "
            f"<code>{esc(push.get('dataset', {}).get('name', ''))}</code>.</p>"
        )
    if pull:
        counts = pull.get("counts", {})
        parts.append(table(["count", "items"], [[k, fmt(v)] for k, v in counts.items()], {1}))
        parts.append(f"<p>Acceptance rate of the reviewed items: {fmt(pull.get('acceptance_rate'))}</p>")
        agreement = pull.get("agreement") or {}
        if agreement:
            parts.append(table(["question", "agreement"], [[q, json.dumps(a)] for q, a in agreement.items()]))
    return "".join(parts)


def training(stages: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    tune = stages.get("tune")
    if not tune or not tune.get("complete"):
        return not_run("tune", "studio tune")
    parts = []
    losses = tune.get("losses") or {}
    if losses.get("train") or losses.get("validation"):
        fig, ax = plt.subplots(figsize=(6, 3))
        for name, style in (("train", "-"), ("validation", "o-")):
            points = losses.get(name) or []
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.spines[["top", "right"]].set_visible(False)
        parts.append(figure(fig, "loss curves"))
    ppl = tune.get("validation_perplexity") or {}
    facts = [
        ["task", tune.get("task")],
        ["method", tune.get("method")],
        ["base model", tune.get("base_model")],
        *([["fine-tuned model", tune["fine_tuned_model"]]] if tune.get("fine_tuned_model") else []),
        ["steps", fmt(tune.get("steps"))],
        ["epochs", fmt(tune.get("epochs"))],
        ["training tokens/s", fmt(tune.get("train_tokens_per_s"))],
        ["device", tune.get("device")],
        ["validation perplexity before", fmt(ppl.get("before"))],
        ["validation perplexity after", fmt(ppl.get("after"))],
    ]
    parts.append(table(["", ""], facts))
    return "".join(parts)


def evaluation(run: Run) -> str:
    path = run.file("eval")
    if not path.exists():
        return not_run("eval", "studio eval")
    result = json.loads(path.read_text())
    parts = []
    ppl = result.get("perplexity") or {}
    if ppl:
        variants = list(ppl)
        keys = sorted({k for v in ppl.values() for k in v}, key=lambda k: (k != "all", k))
        parts.append("<h3>Perplexity on the held-out test split (lower is better)</h3>")
        parts.append(
            table(
                ["", *variants],
                [[k, *(fmt(ppl[v].get(k)) for v in variants)] for k in keys],
                set(range(1, len(variants) + 1)),
            )
        )
    if result.get("verdict"):
        parts.append(f"<p><b>{esc(result['verdict'])}</b></p>")
    if result.get("moved_from_test"):
        parts.append(
            f"<p>{result['moved_from_test']} test item(s) moved to train before scoring: near copies of a training, "
            f"validation or seed example. {result.get('test_items', 0)} test item(s) scored.</p>"
        )
    scores = (result.get("generation") or {}).get("scores") or {}
    if scores:
        metrics = sorted({m for s in scores.values() for m in s})
        parts.append(table(["", *metrics], [[v, *(fmt(s.get(m)) for m in metrics)] for v, s in scores.items()]))
    samples = (result.get("generation") or {}).get("samples") or []
    if samples:
        variants = [k for k in samples[0] if k not in ("prompt", "reference")]
        body = [[cut(s.get("prompt", ""), 200), *(cut(s.get(v, ""), 300) for v in variants)] for s in samples[:8]]
        parts.append("<h3>The same prompts, answered by each model</h3>")
        parts.append(table(["prompt", *variants], body))
    if result.get("classification"):
        c = result["classification"]
        parts.append(table(["metric", "value"], [[k, fmt(v)] for k, v in c.items() if not isinstance(v, dict | list)]))
    return "".join(parts) or "<p>No figures in eval.json.</p>"


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #3b6ea5;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em} table{border-collapse:collapse;margin:.8em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;max-width:420px}
td.num{text-align:right;font-variant-numeric:tabular-nums} th{background:#eef3f9}
.muted{color:#777} .example{color:#555;font-size:13px;white-space:pre-wrap} img{max-width:100%}
code{background:#f3f3f3;padding:0 .2em}
"""

SECTIONS = [
    ("funnel", "Funnel: from planned to split"),
    ("rejections", "Why items were dropped"),
    ("distributions", "Lengths and axes"),
    ("duplicates", "Duplicates and their twins"),
    ("judge", "Judge: on topic, on label, scored"),
    ("diversity", "Diversity"),
    ("cost", "Tokens, cost and time per stage"),
    ("review", "Human review"),
    ("training", "Training"),
    ("evaluation", "Evaluation: base, few-shot and tuned"),
]


def build(run: Run, title: str = "", path: Path | None = None) -> Path:
    """Write report.html (into the run folder, or `path`) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    stages = run.manifest().get("stages", {})
    bodies = {
        "funnel": funnel(run, stages),
        "rejections": rejections(run),
        "distributions": distributions(run),
        "duplicates": duplicates(run, stages),
        "judge": judging(run, stages),
        "diversity": diversity(stages),
        "cost": cost_and_time(stages),
        "review": review(stages),
        "training": training(stages),
        "evaluation": evaluation(run),
    }
    nav = "".join(f'<a href="#{a}">{esc(t.split(":")[0])}</a>' for a, t in SECTIONS)
    content = "".join(section(a, t, bodies[a]) for a, t in SECTIONS)
    generated = stages.get("generate", {})
    model = generated.get("model") or ""
    page = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title or run.name)}: studio report"
        f"</title><style>{CSS}</style></head><body><h1>{esc(title or run.name)}</h1>"
        f"<p class=muted>run <code>{esc(run.dir)}</code>{' · model ' + esc(model) if model else ''} · "
        f"report made {esc(time.strftime('%Y-%m-%d %H:%M'))}</p><nav>{nav}</nav>{content}</body></html>"
    )
    path = path or run.file("report")
    replace_atomically(path, lambda f: f.write(page))
    return path


class ReportStage(Stage):
    """report.html from the manifest and the run's files; built at every run (it shows the manifest)."""

    name = "report"
    command = "studio report"
    outputs = ("report",)

    def volatile(self, project: Project) -> bool:
        return True

    def run(self, ctx: Context) -> Outcome:
        build(ctx.run, f"{ctx.project.domain.title}: run {ctx.run.name}", ctx.output("report"))
        return Outcome(details={"path": str(ctx.run.file("report"))})
