"""The judge stage: the embedding checks (topic.py), then an LLM that scores every item on a rubric.

Input: 03-unique.jsonl. Outputs: 03-judged.jsonl (the items that passed, with meta["topic"] and
meta["judge"]) and 03-judge-rejected.jsonl (each with meta["rejected"]: rule `off_topic`, `off_label` or
`judge`, and the reason). The rubric is the project's `judge` template (built in: rubric/judge.*.j2), one
score from 1 to 5 and a one-line reason per criterion; an item whose mean score is below judge.threshold is
rejected. Requests go through generation's client and cache: a killed run pays for no reply twice, transient
faults are retried, and the run's budget covers generation and the judge together. An item left without a
reply (the endpoint down, the budget reached) is in neither file: the stage is incomplete and the next run
asks again. With no endpoint but the bundled model, the LLM judge steps aside (judge.force overrides it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.project import Project
from studio.quality import topic
from studio.quality.items import dotted_value
from studio.records import Record, read_records, write_jsonl
from studio.stage import Context, Outcome, Stage, progress_bar
from studio.target import Target

if TYPE_CHECKING:
    from studio.generation.spend import BudgetReached

RUBRIC = Path(__file__).parent / "rubric"
STEPS_ASIDE = (
    "the LLM judge steps aside: there is no endpoint but the bundled 135M model, too small to judge "
    "(set judge.base_url or endpoint.base_url, or judge.force: true)"
)


def rubric_schema(criteria: dict[str, str]) -> dict[str, Any]:
    """What the judge replies: per criterion, a one-line reason first (it reasons before it scores), a score."""
    score = {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason", "score"],
        "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 300},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(criteria),
        "properties": {name: score for name in criteria},
    }


def verdict(scores: dict[str, dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The judge's meta for an item: scores, reasons, their mean and whether it passes."""
    mean = sum(s["score"] for s in scores.values()) / len(scores)
    return {
        "scores": {k: s["score"] for k, s in scores.items()},
        "reasons": {k: " ".join(str(s["reason"]).split()) for k, s in scores.items()},
        "mean": round(mean, 3),
        "passed": mean >= threshold,
    }


def why_rejected(judged: dict[str, Any], threshold: float) -> str:
    worst = min(judged["scores"], key=lambda k: judged["scores"][k])
    return (
        f"judge's mean score {judged['mean']:.2f} < {threshold:g}; lowest {worst} "
        f"{judged['scores'][worst]}: {judged['reasons'][worst]}"
    )


class Rubric:
    """What an item is asked with, and what a reply says (pure: no network)."""

    def __init__(self, project: Project, target: Target, mode: str):
        from jsonschema import Draft202012Validator

        from studio.generation.client import response_format
        from studio.generation.templates import Templates

        self.project, self.target, self.mode = project, target, mode
        self.settings = project.judge
        self.schema = rubric_schema(self.settings.criteria)
        self.validator = Draft202012Validator(self.schema)
        self.templates = Templates(project.prompts_dir, RUBRIC)
        self.templates.check([self.settings.template])
        self.params: dict[str, Any] = {"temperature": 0, "max_tokens": self.settings.max_tokens, "seed": 0}
        if (fmt := response_format(mode, self.schema)) is not None:
            self.params["response_format"] = fmt

    def messages(self, record: Record) -> list[dict[str, str]]:
        d = self.project.domain
        return self.templates.render(
            self.settings.template,
            {
                "domain": {"name": d.name, "title": d.title, "description": d.description},
                "criteria": self.settings.criteria,
                "schema": json.dumps(self.schema, ensure_ascii=False),
                "axes": record.meta.get("axes") or {},
                "item": json.dumps(record.data, ensure_ascii=False, indent=1),
                "text": dotted_value(record.data, self.project.quality.text_field),
            },
        )

    def key(self, messages: list[dict[str, str]]) -> str:
        from studio.generation.cache import request_key

        return request_key(self.target.identity, self.target.model, messages, self.params)

    def read(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        """(the verdict, None) or (None, what is wrong with the reply)."""
        from studio.generation.client import extract_json

        try:
            scores = extract_json(text)
        except ValueError as e:
            return None, str(e)
        errors = sorted(self.validator.iter_errors(scores), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            return None, f"the judge's reply does not fit the rubric ({where or 'top'}: {errors[0].message[:120]})"
        return verdict(scores, self.settings.threshold), None


class LlmJudge:
    """Scores records through the client and the run's cache, under the run's budget."""

    def __init__(self, ctx: Context, target: Target):
        self.ctx, self.project, self.target = ctx, ctx.project, target
        if self.project.budget.usd is not None and target.model not in self.project.prices:
            raise StudioError(f"budget.usd needs a price for model '{target.model}' in `prices`", None, "budget.usd")
        self.verdicts: dict[str, dict[str, Any]] = {}  # record id -> meta["judge"] (or its error)
        self.pending: dict[str, str] = {}  # record id -> why it has no reply yet
        self.counts = Counter[str]()
        self.stopped: BudgetReached | None = None  # the budget that stopped it

    async def judge(self, records: list[Record]) -> None:
        from studio.generation.cache import ReplyCache
        from studio.generation.client import endpoint_client, structured_mode
        from studio.generation.live import LiveExecutor
        from studio.generation.spend import Spend

        e = self.project.endpoint
        self.bar = progress_bar(len(records), "judge", self.ctx.show_progress)
        self.client, ceiling = endpoint_client(self.target, e, self.ctx.say)
        self.cache = ReplyCache(self.ctx.run.file("cache"))
        self.spend = Spend(self.project.prices, self.target.model)
        self.spend.paid(self.cache.usage())
        try:
            same = not self.project.judge.base_url
            configured = e.structured_output if same else "auto"
            schema = rubric_schema(self.project.judge.criteria)
            mode = await structured_mode(self.client, self.cache, self.target, configured, schema)
            self.rubric = Rubric(self.project, self.target, mode)
            self.executor = LiveExecutor(self.client, ceiling)
            await self.executor.run([(r, 0) for r in records], self.counted)
        finally:
            self.bar.close()
            await self.client.close()
            self.cache.close()
        for r in records:
            if r.id not in self.verdicts and r.id not in self.pending:
                self.pending[r.id] = str(self.stopped)

    async def counted(self, record: Record, retry: int) -> bool:
        """`step`, and the bar moved on by the record."""
        going_on = await self.step(record, retry)
        self.bar.update()
        return going_on

    async def step(self, record: Record, _: int) -> bool:
        from studio.generation.client import FATAL_STATUS, RequestFailed, stepped_down
        from studio.generation.spend import BudgetReached, paid_reply

        if self.stopped:
            return False
        rubric = self.rubric
        messages = rubric.messages(record)
        try:
            reply, cached = await paid_reply(
                self.cache,
                self.spend,
                self.project.budget,
                rubric.key(messages),
                messages,
                rubric.params,
                self.executor.send,
            )
        except BudgetReached as stop:
            self.stopped = stop
            return False
        except RequestFailed as e:
            if e.status in FATAL_STATUS:
                why = f"judge: {FATAL_STATUS[e.status]} ({e.reason})"
                raise StudioError(why, None, self.target.public_url) from None
            lower = stepped_down(rubric.mode, self.rubric.mode, e, self.cache, self.target, self.ctx.say)
            if lower is not None:
                if lower != self.rubric.mode:
                    self.rubric = Rubric(self.project, self.target, lower)
                return await self.step(record, _)  # asked again in the lower mode
            if e.retryable:
                self.pending[record.id] = e.reason
            else:
                self.verdicts[record.id] = {"error": e.reason, "model": self.target.model}
            return True
        self.counts["from_cache" if cached else "requests"] += 1
        judged, problem = rubric.read(reply.text)
        self.verdicts[record.id] = (
            {**judged, "model": self.target.model} if judged else {"error": problem, "model": self.target.model}
        )
        return True


def check_topic(project: Project, records: list[Record]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The embedding checks: the reason each off-topic or off-label record is rejected (by id), and the
    figures (the similarity distribution, the label counts); each record gets meta["topic"]."""
    settings, text_field = project.quality.topic, project.quality.text_field
    texts = [str(dotted_value(r.data, text_field) or "") for r in records]
    d = project.domain
    refs = [topic.reference(d.title or d.name, d.description, r.meta.get("axes") or {}) for r in records]
    check = topic.on_topic(texts, refs, settings, project.quality.dedup.semantic.device)
    rejected: dict[str, dict[str, Any]] = {}
    for r, sim in zip(records, check.similarity, strict=True):
        r.meta["topic"] = {"similarity": round(float(sim), 4)}
        if sim < check.threshold:
            rejected[r.id] = {
                "rule": "off_topic",
                "reason": f"similarity {sim:.2f} to the domain, below the run's threshold {check.threshold:.2f} "
                f"(median {check.median:.2f})",
            }
    figures: dict[str, Any] = {"topic": check.distribution()}
    axis = label_axis(project)
    if axis is not None:
        names = project.axes[axis].all_values()
        labelled = [(i, r) for i, r in enumerate(records) if (r.meta.get("axes") or {}).get(axis) in names]
        if labelled and len(names) > 1:
            centred = len(labelled) >= settings.min_items
            own, other, other_name = topic.on_label(
                [texts[i] for i, _ in labelled],
                [r.meta["axes"][axis] for _, r in labelled],
                names,
                settings.labels,
                centred,
                project.quality.dedup.semantic.device,
            )
            for (_, r), o, b, name in zip(labelled, own, other, other_name, strict=True):
                r.meta["topic"].update(label=round(float(o), 4), nearest_other=name, other=round(float(b), 4))
                if o < b - settings.margin and r.id not in rejected:
                    label = r.meta["axes"][axis]
                    rejected[r.id] = {
                        "rule": "off_label",
                        "reason": f"nearer the label '{name}' ({b:+.2f}) than its own label '{label}' ({o:+.2f})"
                        + (", similarities centred on each label's mean" if centred else ""),
                    }
            figures["label"] = {"axis": axis, "checked": len(labelled), "centred": centred}
    return rejected, figures


def label_axis(project: Project) -> str | None:
    """The axis whose values are labels: quality.topic.label, else train.label for a classification domain."""
    axis = project.quality.topic.label
    if axis is None and project.train.task == "classification":
        axis = project.train.label
    if axis is not None and axis not in project.axes:
        if project.quality.topic.label is not None:
            raise StudioError(f"'{axis}' is not an axis", None, "quality.topic.label")
        return None
    return axis


class JudgeStage(Stage):
    """03-unique.jsonl into 03-judged.jsonl and 03-judge-rejected.jsonl."""

    name = "judge"
    command = "studio judge"
    inputs = ("unique",)
    outputs = ("judged", "judge_rejected")

    def __init__(self, target: Target | None, start: Callable[[], Target | None] | None = None):
        # `target` names the judge's endpoint for the fingerprint (None: no LLM judge); `start` brings it up.
        self.target, self.start = target, start

    def settings(self, project: Project) -> Any:
        llm = None
        if self.target is not None:
            from studio.generation.templates import Templates

            templates = Templates(project.prompts_dir, RUBRIC)
            templates.check([project.judge.template])
            llm = [
                project.judge.model_dump(mode="json", exclude={"review_rejected", "api_key_env"}),
                templates.content_hash(project.judge.template),
                self.target.identity,
                self.target.model,
            ]
        return {
            "topic": project.quality.topic.model_dump(mode="json") if project.quality.topic.enabled else None,
            "label_axis": label_axis(project) if project.quality.topic.enabled else None,
            "domain": project.domain.model_dump(mode="json"),
            "text_field": project.quality.text_field,
            "llm": llm,
        }

    def run(self, ctx: Context) -> Outcome:
        project = ctx.project
        records = read_records(ctx.input("unique"))
        started = time.monotonic()
        rejected: dict[str, dict[str, Any]] = {}
        details: dict[str, Any] = {}
        if project.quality.topic.enabled and records:
            rejected, details = check_topic(project, records)
        llm = None
        if self.target is None:
            if project.judge.enabled:
                ctx.say(STEPS_ASIDE)
            details["llm_judge"] = "stepped aside" if project.judge.enabled else "off (judge.enabled: false)"
        else:
            llm = LlmJudge(ctx, self.start() if self.start else self.target)
            asyncio.run(llm.judge([r for r in records if r.id not in rejected]))
            details["llm_judge"] = {"model": llm.target.model, "endpoint": llm.target.kind, **llm.counts}
            details["tokens"] = {"in": llm.spend.tokens_in, "out": llm.spend.tokens_out}
            details["cost_usd"] = llm.spend.cost()
        kept, dropped, unscored = [], [], 0
        threshold = project.judge.threshold
        for r in records:
            if llm is not None and r.id in llm.pending:
                continue
            if llm is not None and r.id in llm.verdicts:
                r.meta["judge"] = llm.verdicts[r.id]
                unscored += "error" in r.meta["judge"]
                if r.meta["judge"].get("passed") is False:
                    rejected[r.id] = {"rule": "judge", "reason": why_rejected(r.meta["judge"], threshold)}
            if r.id in rejected:
                dropped.append(Record(r.id, r.data, {**r.meta, "rejected": {"stage": "judge", **rejected[r.id]}}))
            else:
                kept.append(r)
        write_jsonl(ctx.output("judged"), kept)
        write_jsonl(ctx.output("judge_rejected"), dropped)
        by_rule = Counter(x["rule"] for x in rejected.values())
        pending = len(llm.pending) if llm else 0
        counts = {"in": len(records), "kept": len(kept), "rejected": len(dropped), **by_rule}
        counts.update(unscored=unscored, pending=pending)
        why = None
        if pending:
            assert llm is not None
            last = next(iter(llm.pending.values()))
            why = f"{pending} of {len(records)} items got no judge's reply ({last}); the next run asks for them again"
            if llm.stopped is not None:
                why = (
                    f"{llm.stopped} with {pending} items not judged; raise {llm.stopped.setting} in the project file "
                    "to go on"
                )
        if unscored:
            ctx.say(f"judge: {unscored} item(s) kept unscored: the judge's reply did not fit the rubric")
        details["seconds_judging"] = round(time.monotonic() - started, 2)
        return Outcome(counts, complete=why is None, why=why, details=details)
