"""The generate stage: plan -> prompts -> requests -> validated records, resumable at any point.

Inputs: the project (templates, schema, axes, seed examples) and an endpoint.
Outputs: 01-generated.jsonl (items valid against the schema), 01-rejected.jsonl (every failure with its
reason), 01-unplanned.jsonl (records made before that the plan no longer holds), 00-plan.json and
00-subtopics.json; cache.sqlite keeps every answered request, committed as it arrives.

The plan decides what the files hold. A re-run keeps the records that still stand, takes answered
requests from the cache (a run killed at any point pays for nothing twice), and asks again for the items
that failed for want of a reply. The stage is complete when every planned item ended accepted or finally
rejected; a budget or items still without a reply leave it incomplete, and the run stops there.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError
from studio.generation import recorder
from studio.generation.cache import ReplyCache
from studio.generation.client import (
    FATAL_STATUS,
    Reply,
    RequestFailed,
    endpoint_client,
    estimate_tokens,
    stepped_down,
    structured_mode,
)
from studio.generation.live import LiveExecutor
from studio.generation.plan import PlannedItem, plan
from studio.generation.requests import Requests, repair_prompt
from studio.generation.spend import BudgetReached, Spend, paid_reply
from studio.generation.templates import Templates
from studio.project import Project
from studio.records import Record, stable_hash, write_json
from studio.runs import Run, file_hash
from studio.schema import DomainSchema
from studio.stage import Context, Outcome, Stage, progress_bar
from studio.target import Target


@dataclass
class Progress:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "planned": 0,
            "done_before": 0,
            "first_try": 0,
            "repaired": 0,
            "made": 0,
            "from_cache": 0,
            "requests": 0,
        }
    )
    stopped: BudgetReached | None = None  # the budget that stopped it


class Generator:
    """One attempt at the stage: makes the pending items and keeps the books (counts, spend, budget).
    `requests` builds what is asked, an executor sends it (live, or through the Batch API), the cache
    remembers every answer and `recorder` writes the files."""

    def __init__(self, ctx: Context, target: Target, retry_rejected: bool = False):
        self.ctx, self.project, self.run, self.target = ctx, ctx.project, ctx.run, target
        self.retry_rejected = retry_rejected
        self.say = ctx.say
        self.state = Progress()
        self.made: dict[str, Record] = {}
        if self.project.budget.usd is not None and target.model not in self.project.prices:
            raise StudioError(f"budget.usd needs a price for model '{target.model}' in `prices`", None, "budget.usd")

    async def ask(self, messages: list[dict[str, str]], params: dict[str, Any], key: str) -> Reply:
        """A reply from the cache, or from the endpoint (then cached at once)."""
        reply, cached = await paid_reply(
            self.cache, self.spend, self.project.budget, key, messages, params, self.executor.send
        )
        self.state.counts["from_cache" if cached else "requests"] += 1
        return reply

    async def make(self, item: PlannedItem, retry: int) -> tuple[Record, bool]:
        mode = self.requests.mode
        schema, messages, params = self.requests.request(item, retry)
        first_key = self.requests.key(messages, params, item.sample_index, retry)
        meta: dict[str, Any] = {
            "template": item.template,
            "template_hash": self.requests.templates.content_hash(item.template),
            "axes": item.axes,
            "sample_index": item.sample_index,
            "model": self.target.model,
            "endpoint": self.target.kind,
            "base_url": self.target.public_url,
            "structured_output": mode,
            "params": {k: v for k, v in params.items() if k != "response_format"},
            # What the item was asked with: a changed template or parameter makes the record stale.
            "request_key": first_key,
            **({"retry": retry} if retry else {}),
        }
        replies: list[Reply] = []
        try:
            reply = await self.ask(messages, params, first_key)
            replies.append(reply)
            data, problem = self.requests.check(reply.text, reply.finish_reason, schema)
            if problem and self.project.generate.repair:
                repair = [
                    *messages,
                    {"role": "assistant", "content": reply.text},
                    {"role": "user", "content": repair_prompt(problem)},
                ]
                reply = await self.ask(repair, params, self.requests.key(repair, params, item.sample_index, retry))
                replies.append(reply)
                data, problem = self.requests.check(reply.text, reply.finish_reason, schema)
        except RequestFailed as e:
            if e.status in FATAL_STATUS:
                raise StudioError(f"{FATAL_STATUS[e.status]} ({e.reason})", None, self.target.public_url) from None
            lower = stepped_down(mode, self.requests.mode, e, self.cache, self.target, self.say)
            if lower is not None:
                self.requests.mode = lower
                return await self.make(item, retry)  # asked again in the lower mode: the refusal was not its fault
            data, problem, retryable = None, e.reason, e.retryable
        else:
            retryable = False
        meta.update(
            tokens_in=sum(r.tokens_in for r in replies),
            tokens_out=sum(r.tokens_out for r in replies),
            seconds=round(sum(r.seconds for r in replies), 3),
            attempts=sum(r.attempts for r in replies),
            repaired=len(replies) > 1,
            finish_reason=replies[-1].finish_reason if replies else None,
            generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        if problem is None:
            return Record(item.id, data or {}, meta), True
        meta["rejected"] = {"stage": "generate", "reason": problem, "retryable": retryable}
        if replies:
            meta["raw"] = replies[-1].text[:2000]
        return Record(item.id, data if isinstance(data, dict) else {}, meta), False

    # The attempt.
    async def generate(self) -> Outcome:
        run, project, e = self.run, self.project, self.project.endpoint
        self.cache = ReplyCache(run.file("cache"))
        self.spend = Spend(project.prices, self.target.model)
        self.spend.paid(self.cache.usage())
        self.client, ceiling = endpoint_client(self.target, e, self.say)
        # Requests before the items (negotiation, subtopics) always go live.
        self.executor: Any = LiveExecutor(self.client, ceiling)  # or a BatchExecutor, in work()
        try:
            self.requests = Requests(project, self.target, "text")
            self.requests.mode = await structured_mode(
                self.client, self.cache, self.target, project.endpoint.structured_output, self.requests.probe_schema()
            )
            items = plan(project, project.generate.n, await self.subtopics())
            write_json(self.ctx.output("plan"), {"n": len(items), "items": [i.to_dict() for i in items]})
            earlier = recorder.earlier_records(run)
            todo = recorder.todo(items, earlier, self.requests.first_key, self.retry_rejected)
            c = self.state.counts
            c["planned"], c["done_before"], c["stale"] = len(items), len(todo.kept), todo.stale
            t0 = time.monotonic()
            # One request at a time (the bundled model, or concurrency 1): ask in the prompts' order, for the
            # server's prompt cache.
            await self.work(todo.pending if ceiling > 1 else self.requests.by_prompt(todo.pending), len(items))
            seconds = time.monotonic() - t0
        finally:
            await self.client.close()
            self.cache.close()
        held = recorder.assemble(self.ctx.output, items, earlier, todo.kept, self.made)
        return self.outcome(held, seconds)

    async def work(self, pending: list[tuple[PlannedItem, int]], total: int) -> None:
        """Make the pending items, live or in rounds of batches."""
        self.bar = progress_bar(total, "generate", self.ctx.show_progress, initial=total - len(pending), smoothing=0.1)
        if self.project.endpoint.batch:
            from studio.generation.batch import BatchExecutor  # the Batch API's modules only when it is used

            self.executor = BatchExecutor(self.client, self.cache, self.project.endpoint, self.say, self.after_batch)
        try:
            await self.executor.run(pending, self.step)
        finally:
            self.bar.close()

    async def step(self, item: PlannedItem, retry: int) -> bool:
        """Make one item and record it; False once a budget stops the run."""
        if self.state.stopped:
            return False
        try:
            self.finish(*await self.make(item, retry))
        except BudgetReached as stop:
            self.state.stopped = stop
            return False
        return True

    def finish(self, record: Record, ok: bool) -> None:
        c = self.state.counts
        self.made[record.id] = record
        c["made"] += 1
        if ok:
            c["repaired" if record.meta["repaired"] else "first_try"] += 1
        self.bar.update(1)
        if not self.bar.disable:
            self.bar.set_postfix_str(self.postfix(), refresh=False)

    def after_batch(self, requests: int) -> None:
        """A round of batches ended: its replies are in the cache, and what they cost is known."""
        self.state.counts["requests"] += requests
        self.spend.reserved_in = self.spend.reserved_out = 0
        self.spend.paid(self.cache.usage())

    def postfix(self) -> str:
        text = f"tokens {self.spend.tokens_in:,} in / {self.spend.tokens_out:,} out"
        cost = self.spend.cost()
        return text + (f", ${cost:.4f}" if cost is not None else "")

    async def subtopics(self) -> dict[str, list[str]] | None:
        """The optional first pass: subtopics per value of an axis (answers cached like any request)."""
        cfg = self.project.generate.subtopics
        if cfg is None:
            return None
        axis = self.project.axes[cfg.axis]
        values = axis.all_values()
        schema = DomainSchema(
            {
                "type": "object",
                "required": ["subtopics"],
                "additionalProperties": False,
                "properties": {
                    "subtopics": {
                        "type": "array",
                        "minItems": cfg.count,
                        "maxItems": cfg.count,
                        "items": {"type": "string", "minLength": 3, "maxLength": 60},
                    }
                },
            }
        )
        self.requests.templates.check([cfg.template])
        out: dict[str, list[str]] = {}
        for value in values:
            item = PlannedItem(stable_hash("subtopics", cfg.axis, value), cfg.template, {cfg.axis: value}, 0)
            messages = self.requests.templates.render(
                cfg.template,
                {**self.requests.variables(item, schema.schema), "axis": cfg.axis, "value": value, "count": cfg.count},
            )
            params = self.requests.params(item.id, schema.schema)
            try:
                reply = await self.ask(messages, params, self.requests.key(messages, params, 0))
                data, problem = self.requests.check(reply.text, reply.finish_reason, schema)
            except RequestFailed as e:
                data, problem = None, e.reason
            found = list(dict.fromkeys(s.strip() for s in (data or {}).get("subtopics", []) if s.strip()))
            # A value the model found nothing for is asked about as it stands.
            out[value] = found if not problem and found else [value]
        write_json(self.ctx.output("subtopics"), out)
        return out

    def outcome(self, held: dict[str, int], seconds: float) -> Outcome:
        c = {**self.state.counts, **held}
        done = c["accepted"] + c["rejected"] - c["retryable"]
        why = None
        if stop := self.state.stopped:
            why = f"{stop} with {done} of {c['planned']} items done; raise {stop.setting} in the project file to go on"
        elif c["retryable"]:
            last = next(
                (r.meta["rejected"]["reason"] for r in self.made.values() if recorder.retryable(r.to_dict())), ""
            )
            why = f"{c['retryable']} of {c['planned']} items got no reply ({last}); the next run asks for them again"
        elif c["pending"]:
            why = f"{c['pending']} of {c['planned']} items are still pending"
        return Outcome(
            counts=c,
            complete=why is None,
            why=why,
            details={
                "structured_output": self.requests.mode,
                "model": self.target.model,
                "endpoint": self.target.kind,
                "tokens": {"in": self.spend.tokens_in, "out": self.spend.tokens_out},
                "cost_usd": self.spend.cost(),
                "client": dict(self.client.counts),
                **({"fleet": self.client.fleet.by_endpoint()} if self.target.fleet else {}),
                "items_per_s": round(c["made"] / seconds, 2) if seconds else None,
                "budget_stop": str(self.state.stopped) if self.state.stopped else None,
            },
        )


class GenerateStage(Stage):
    name = "generate"
    command = "studio generate"
    outputs = ("plan", "subtopics", "generated", "rejected", "unplanned")

    def __init__(self, target: Target, start: Callable[[], Target] | None = None, retry_rejected: bool = False):
        # `target` names the endpoint for the fingerprint; `start` brings it up (the bundled model) when
        # the stage really runs, so a skipped stage starts nothing.
        self.target, self.start, self.retry_rejected = target, start, retry_rejected

    def settings(self, project: Project) -> Any:
        """What the output depends on: the settings, the schema, the templates, the endpoint and model."""
        templates = Templates(project.prompts_dir)
        names = [t.name for t in project.templates] + (
            [project.generate.subtopics.template] if project.generate.subtopics else []
        )
        templates.check(names)
        examples = project.generate.seed_examples
        return [
            project.model_dump(mode="json", include={"axes", "templates", "generate", "sampling", "domain"}),
            project.endpoint.model_dump(mode="json", exclude={"concurrency", "rpm", "tpm", "timeout_s"}),
            DomainSchema.load(project.schema_path).schema,
            {name: templates.content_hash(name) for name in names},
            file_hash(project.path(examples.file)) if examples and project.path(examples.file).exists() else None,
            self.target.identity,
            self.target.model,
        ]

    def run(self, ctx: Context) -> Outcome:
        generator = Generator(ctx, self.start() if self.start else self.target, self.retry_rejected)
        # What is loaded by now (modules, the plan, compiled schemas) lives for the whole run: freezing it
        # keeps the cyclic GC from scanning it again and again while replies stream in.
        gc.freeze()
        try:
            return asyncio.run(generator.generate())
        finally:
            gc.unfreeze()


def dry_run(project: Project, run: Run, target: Target) -> dict[str, Any]:
    """The plan and its price, without a single request: what `studio generate --dry-run` prints."""
    configured = project.endpoint.structured_output
    # The mode only shapes the requests of items still to make (a record is checked in its own mode).
    requests = Requests(project, target, configured if configured != "auto" else "json_schema")
    subtopics_file = run.file("subtopics")
    subtopics = json.loads(subtopics_file.read_text()) if subtopics_file.exists() else None
    items = plan(project, project.generate.n, subtopics)
    todo = recorder.todo(items, recorder.earlier_records(run), requests.first_key)
    tokens_in = sum(estimate_tokens(requests.request(i, retry)[1]) for i, retry in todo.pending)
    sent = len(todo.pending)
    if project.generate.subtopics and subtopics is None:
        axis = project.axes[project.generate.subtopics.axis]
        sent += len(axis.all_values())
    max_tokens = project.sampling.max_tokens
    spend = Spend(project.prices, target.model)
    return {
        "planned": len(items),
        "done": len(todo.kept),
        "requests": sent,
        "tokens_in": tokens_in,
        "tokens_out_max": sent * max_tokens,
        "cost_usd_max": spend.cost(tokens_in, sent * max_tokens),
        "model": target.model,
        "endpoint": target.public_url,
        "mode": "batch" if project.endpoint.batch else "live",
    }
