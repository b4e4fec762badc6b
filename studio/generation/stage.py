"""The generate stage: plan -> prompts -> requests -> validated records, resumable at any point.

Inputs: the project (templates, schema, axes, seed examples) and an endpoint.
Outputs: 01-generated.jsonl (items valid against the schema), 01-rejected.jsonl (every failure with its
reason), 00-plan.json, cache.sqlite (every answered request), and the `generate` entry of the manifest.

Every planned item ends in exactly one of the two JSONL files. A re-run skips the items already there,
takes answered requests from the cache, and tries again the items that failed for want of a reply.
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
from studio.generation.cache import ReplyCache, request_key
from studio.generation.client import (
    DEFAULT_CONCURRENCY,
    Client,
    Reply,
    RequestFailed,
    Target,
    drop_nulls,
    estimate_tokens,
    extract_json,
    response_format,
)
from studio.generation.examples import ExamplePool
from studio.generation.plan import PlannedItem, plan
from studio.generation.templates import Templates
from studio.project import Project
from studio.records import (
    BadLine,
    JsonlWriter,
    Record,
    canonical_json,
    mend_unicode,
    read_jsonl,
    repair_torn_tail,
    scan_jsonl,
    stable_hash,
    write_json,
    write_jsonl,
)
from studio.runs import Run, file_hash
from studio.schema import DomainSchema, map_subschemas

# HTTP statuses that mean the whole run is misconfigured, not that one item failed.
FATAL_STATUS = {
    401: "the endpoint refused the API key",
    403: "the endpoint refused access",
    404: "the endpoint does not know this model or path",
}


@dataclass
class Spend:
    """Tokens and money: what earlier processes of this run paid (from the cache), this one's replies, and
    the requests in flight (reserved at their largest, so the run stops before it can pass its budget)."""

    prices: dict[str, Any]
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    reserved_in: int = 0
    reserved_out: int = 0

    def cost(self, extra_in: int = 0, extra_out: int = 0) -> float | None:
        price = self.prices.get(self.model)
        if price is None:
            return None
        tin = self.tokens_in + self.reserved_in + extra_in
        tout = self.tokens_out + self.reserved_out + extra_out
        return (tin * price.input + tout * price.output) / 1e6

    def tokens(self, extra: int = 0) -> int:
        return self.tokens_in + self.tokens_out + self.reserved_in + self.reserved_out + extra


@dataclass
class Progress:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "planned": 0,
            "done_before": 0,
            "accepted": 0,
            "first_try": 0,
            "repaired": 0,
            "rejected": 0,
            "from_cache": 0,
            "requests": 0,
        }
    )
    stopped: str | None = None


class Generator:
    def __init__(
        self, project: Project, run: Run, target: Target, show_progress: bool = True, say: Callable[[str], None] = print
    ):
        self.project, self.run, self.target = project, run, target
        self.show_progress = show_progress
        self.schema = DomainSchema.load(project.schema_path)
        self.templates = Templates(project.prompts_dir)
        self.templates.check([t.name for t in project.templates])
        ex = project.generate.seed_examples
        self.examples = (
            ExamplePool.load(project.path(ex.file), ex.per_request, ex.match, project.generate.seed) if ex else None
        )
        self.state = Progress()
        self.say = say
        self.batch: dict[str, dict[str, Any]] | None = None  # requests collected for the next batch
        self.batch_failures: dict[str, str] = {}
        self._narrowed: dict[str, DomainSchema] = {}
        self._schema_texts: dict[int, str] = {}
        budget = project.budget
        if budget.usd is not None and target.model not in project.prices:
            raise StudioError(f"budget.usd needs a price for model '{target.model}' in `prices`", None, "budget.usd")

    # The request for one item.
    def target_schema(self, axes: dict[str, str]) -> DomainSchema:
        """The schema an item is asked for: the domain schema narrowed to its axis values, compiled once."""
        key = canonical_json(axes)
        if key not in self._narrowed:
            self._narrowed[key] = self.schema.branch(axes)
        return self._narrowed[key]

    def schema_text(self, schema: dict[str, Any]) -> str:
        """The schema as the prompt shows it, made once per narrowed schema (there are few)."""
        key = id(schema)
        if key not in self._schema_texts:
            self._schema_texts[key] = json.dumps(prompt_schema(schema), ensure_ascii=False)
        return self._schema_texts[key]

    def variables(self, item: PlannedItem, schema: dict[str, Any]) -> dict[str, Any]:
        d = self.project.domain
        return {
            "domain": {"name": d.name, "title": d.title, "description": d.description},
            **item.axes,
            "axes": item.axes,
            "sample_index": item.sample_index,
            "schema": self.schema_text(schema),
            "examples": self.examples.draw(item.id, item.axes) if self.examples else [],
        }

    def params(self, item_id: str, schema: dict[str, Any]) -> dict[str, Any]:
        s = self.project.sampling
        params: dict[str, Any] = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
        if s.seed is not None:
            # One seed per item: identical prompts (same cell, another sample index) must not give one answer.
            params["seed"] = int(stable_hash(s.seed, item_id, length=8), 16) % 2**31
        fmt = response_format(self.mode, schema)
        if fmt is not None:
            params["response_format"] = fmt
        return params

    def check(self, reply: Reply, schema: DomainSchema) -> tuple[dict[str, Any] | None, str | None]:
        """The item in a reply and what is wrong with it (None when it is valid)."""
        try:
            data = mend_unicode(extract_json(reply.text))
        except ValueError as e:
            data, problem = None, f"{e}"
        else:
            if not isinstance(data, dict):
                return None, f"expected a JSON object, got {type(data).__name__}"
            if self.mode == "json_schema":
                data = drop_nulls(data)
            problem = schema.first_error(data)
        if reply.finish_reason == "length":
            problem = f"cut off at max_tokens ({self.project.sampling.max_tokens}) before the reply was complete"
        return data, problem

    def key(self, messages: list[dict[str, str]], params: dict[str, Any], sample_index: int) -> str:
        """The cache key of a request: endpoint, model, messages, parameters and sample index."""
        return request_key(self.target.identity, self.target.model, messages, {**params, "i": sample_index})

    async def ask(
        self, messages: list[dict[str, str]], params: dict[str, Any], sample_index: int, key: str | None = None
    ) -> Reply:
        """A reply from the cache, or from the endpoint (then cached at once)."""
        key = key or self.key(messages, params, sample_index)
        cached = self.cache.get(key)
        if cached is not None:
            self.state.counts["from_cache"] += 1
            return Reply.from_dict(cached)
        est_in, est_out = estimate_tokens(messages), int(params.get("max_tokens") or 0)
        self.check_budget(est_in, est_out)
        s = self.spend
        if self.batch is not None:
            # Batch mode: collect the request for the next batch; the item is made again once it is answered.
            if key in self.batch_failures:
                raise RequestFailed(self.batch_failures.pop(key), 1, retryable=True)
            self.batch[key] = {"model": self.target.model, "messages": messages, **params}
            s.reserved_in, s.reserved_out = s.reserved_in + est_in, s.reserved_out + est_out
            raise AwaitingBatch
        s.reserved_in, s.reserved_out = s.reserved_in + est_in, s.reserved_out + est_out
        try:
            reply = await self.client.chat(messages, params)
        finally:
            s.reserved_in, s.reserved_out = s.reserved_in - est_in, s.reserved_out - est_out
        self.state.counts["requests"] += 1
        self.cache.put(key, {**reply.to_dict(), "model": self.target.model})
        s.tokens_in, s.tokens_out = s.tokens_in + reply.tokens_in, s.tokens_out + reply.tokens_out
        return reply

    def check_budget(self, est_in: int, est_out: int) -> None:
        """Stop before a request that could take the run past its budget."""
        budget = self.project.budget
        if budget.tokens is not None and self.spend.tokens(est_in + est_out) > budget.tokens:
            raise BudgetReached(f"token budget of {budget.tokens:,} reached")
        if budget.usd is not None and (self.spend.cost(est_in, est_out) or 0) > budget.usd:
            raise BudgetReached(f"budget of ${budget.usd:g} reached")

    def request(self, item: PlannedItem) -> tuple[DomainSchema, list[dict[str, str]], dict[str, Any]]:
        """What an item is asked with: the schema it must match, the messages, the parameters."""
        schema = self.target_schema(item.axes)
        return (
            schema,
            self.templates.render(item.template, self.variables(item, schema.schema)),
            self.params(item.id, schema.schema),
        )

    def first_key(self, item: PlannedItem) -> str:
        _, messages, params = self.request(item)
        return self.key(messages, params, item.sample_index)

    async def make(self, item: PlannedItem) -> tuple[Record, bool]:
        schema, messages, params = self.request(item)
        meta: dict[str, Any] = {
            "template": item.template,
            "template_hash": self.templates.content_hash(item.template),
            "axes": item.axes,
            "sample_index": item.sample_index,
            "model": self.target.model,
            "endpoint": self.target.kind,
            "base_url": self.target.public_url,
            "structured_output": self.mode,
            "params": {k: v for k, v in params.items() if k != "response_format"},
            # What the item was asked with: a changed template or parameter makes the record stale.
            "request_key": (first_key := self.key(messages, params, item.sample_index)),
        }
        replies: list[Reply] = []
        try:
            reply = await self.ask(messages, params, item.sample_index, first_key)
            replies.append(reply)
            data, problem = self.check(reply, schema)
            if problem and self.project.generate.repair:
                repair = [
                    *messages,
                    {"role": "assistant", "content": reply.text},
                    {"role": "user", "content": repair_prompt(problem)},
                ]
                reply = await self.ask(repair, params, item.sample_index)
                replies.append(reply)
                data, problem = self.check(reply, schema)
        except RequestFailed as e:
            if e.status in FATAL_STATUS:
                raise StudioError(f"{FATAL_STATUS[e.status]} ({e.reason})", None, self.target.public_url) from None
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

    # The run.
    async def generate(self) -> dict[str, Any]:
        run, project = self.run, self.project
        self.cache = ReplyCache(run.file("cache"))
        spent = self.cache.usage()
        self.spend = Spend(
            project.prices,
            self.target.model,
            sum(i for i, _ in spent.values()),
            sum(o for _, o in spent.values()),
        )
        ceiling = project.endpoint.concurrency or DEFAULT_CONCURRENCY.get(self.target.kind, 16)
        e = project.endpoint
        self.client = Client(
            self.target.base_url,
            self.target.model,
            self.target.api_key,
            timeout=e.timeout_s,
            max_attempts=e.max_attempts,
            concurrency=ceiling,
            rpm=e.rpm,
            tpm=e.tpm,
        )
        try:
            self.mode = await self.structured_mode()
            items = plan(project, project.generate.n, await self.subtopics())
            write_json(run.file("plan"), {"n": len(items), "items": [i.to_dict() for i in items]})
            done = finished_records(run)
            stale = {i.id for i in items if i.id in done and done[i.id]["meta"].get("request_key") != self.first_key(i)}
            drop_records(run, stale)
            pending = [i for i in items if i.id not in done or i.id in stale]
            c = self.state.counts
            c["planned"], c["done_before"], c["stale"] = len(items), len(items) - len(pending), len(stale)
            t0 = time.monotonic()
            await self.work(pending, ceiling, len(items))
            seconds = time.monotonic() - t0
        finally:
            await self.client.close()
            self.cache.close()
        return self.summary(items, seconds)

    async def work(self, pending: list[PlannedItem], ceiling: int, total: int) -> None:
        """Make the pending items with `ceiling` workers (live requests) or in rounds of batches."""
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=total - len(pending),
            unit="item",
            desc="generate",
            dynamic_ncols=True,
            disable=None if self.show_progress else True,
            smoothing=0.1,
        )
        with (
            JsonlWriter(self.run.file("generated")) as self.accepted,
            JsonlWriter(self.run.file("rejected")) as self.rejected,
        ):
            try:
                if self.project.endpoint.batch:
                    await self.work_in_batches(pending)
                else:
                    await self.work_live(pending, ceiling)
            finally:
                self.bar.close()

    def finish(self, record: Record, ok: bool) -> None:
        c = self.state.counts
        if ok:
            self.accepted.write(record)
            c["accepted"] += 1
            c["repaired" if record.meta["repaired"] else "first_try"] += 1
        else:
            self.rejected.write(record)
            c["rejected"] += 1
        self.bar.update(1)
        if not self.bar.disable:
            self.bar.set_postfix_str(self.postfix(), refresh=False)

    async def work_live(self, pending: list[PlannedItem], ceiling: int) -> None:
        queue = iter(pending)

        async def worker() -> None:
            for item in queue:
                if self.state.stopped:
                    return
                try:
                    self.finish(*await self.make(item))
                except BudgetReached as stop:
                    self.state.stopped = str(stop)
                    return

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(ceiling, max(1, len(pending)))):
                    group.create_task(worker())
        except ExceptionGroup as eg:
            # One clear error, not a group: a StudioError (bad template, refused key) wins.
            errors = [e for e in eg.exceptions if isinstance(e, StudioError)]
            raise (errors[0] if errors else eg.exceptions[0]) from None

    async def work_in_batches(self, pending: list[PlannedItem]) -> None:
        """Round 1 collects every first request into one batch; round 2 the repairs; and so on. Between
        rounds every item whose replies are all cached is finished."""
        from studio.generation.batch import run_batch

        while pending:
            self.batch, waiting = {}, []
            for item in pending:
                try:
                    self.finish(*await self.make(item))
                except AwaitingBatch:
                    waiting.append(item)
                except BudgetReached as stop:
                    self.state.stopped = str(stop)
                    break
            requests, self.batch = self.batch, None
            if not requests:
                return
            self.batch_failures = await run_batch(
                self.client, self.cache, requests, self.project.endpoint.batch_poll_s, self.say
            )
            self.state.counts["requests"] += len(requests)
            self.spend.reserved_in = self.spend.reserved_out = 0
            usage = self.cache.usage().values()
            self.spend.tokens_in, self.spend.tokens_out = sum(i for i, _ in usage), sum(o for _, o in usage)
            pending = waiting

    def postfix(self) -> str:
        text = f"tokens {self.spend.tokens_in:,} in / {self.spend.tokens_out:,} out"
        cost = self.spend.cost()
        return text + (f", ${cost:.4f}" if cost is not None else "")

    async def structured_mode(self) -> str:
        """The endpoint's structured-output mode: from the project file, or negotiated once and remembered."""
        configured = self.project.endpoint.structured_output
        if configured != "auto":
            return configured
        mode = self.cache.get_meta(self.mode_key)
        if mode is None:
            mode = await self.client.negotiate()
            self.cache.set_meta(self.mode_key, mode)
        return mode

    @property
    def mode_key(self) -> str:
        return f"structured_output:{self.target.identity}:{self.target.model}"

    async def subtopics(self) -> dict[str, list[str]] | None:
        """The optional first pass: subtopics per value of an axis, asked once and kept in the run folder."""
        cfg = self.project.generate.subtopics
        if cfg is None:
            return None
        path = self.run.file("subtopics")
        axis = self.project.axes[cfg.axis]
        values = list(dict.fromkeys(v for vs in axis.values.values() for v in vs)) if axis.by else axis.values
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
        self.templates.check([cfg.template])
        out: dict[str, list[str]] = {}
        for value in values:
            item = PlannedItem(stable_hash("subtopics", cfg.axis, value), cfg.template, {cfg.axis: value}, 0)
            messages = self.templates.render(
                cfg.template,
                {**self.variables(item, schema.schema), "axis": cfg.axis, "value": value, "count": cfg.count},
            )
            params = self.params(item.id, schema.schema)
            try:
                data, problem = self.check(await self.ask(messages, params, 0), schema)
            except RequestFailed as e:
                data, problem = None, e.reason
            found = list(dict.fromkeys(s.strip() for s in (data or {}).get("subtopics", []) if s.strip()))
            # A value the model found nothing for is asked about as it stands.
            out[value] = found if not problem and found else [value]
        write_json(path, out)
        return out

    def summary(self, items: list[PlannedItem], seconds: float) -> dict[str, Any]:
        c = self.state.counts
        ended = c["done_before"] + c["accepted"] + c["rejected"]
        return {
            "counts": dict(c),
            "complete": ended == c["planned"],
            "stopped": self.state.stopped,
            "seconds": round(seconds, 2),
            "structured_output": self.mode,
            "model": self.target.model,
            "endpoint": self.target.kind,
            "tokens": {"in": self.spend.tokens_in, "out": self.spend.tokens_out},
            "cost_usd": self.spend.cost(),
            "client": dict(self.client.counts),
            "items_per_s": round((c["accepted"] + c["rejected"]) / seconds, 2) if seconds else None,
        }


def prompt_schema(schema: Any) -> Any:
    """The schema as the prompt shows it: without annotations, which small models copy into their answers."""
    drop = ("$schema", "$id", "title", "description", "examples")
    return map_subschemas(schema, lambda sub: {k: v for k, v in sub.items() if k not in drop})


class BudgetReached(Exception):
    pass


class AwaitingBatch(Exception):
    """The item needs a reply that the next batch will bring."""


def repair_prompt(problem: str) -> str:
    if problem.startswith("cut off"):
        return "Your reply was cut off before it was complete. Reply again with a shorter, complete JSON object only."
    return f"Your reply is not valid: {problem}. Reply again with the corrected JSON object only."


def finished_records(run: Run, repair: bool = True) -> dict[str, dict[str, Any]]:
    """The records already accepted or finally rejected, by id. With `repair`, a torn last line is cut
    and rejections for want of a reply (timeouts, outages) are taken out of the rejected file, so this
    run tries those items again; without it, nothing is changed (a dry run)."""
    done: dict[str, dict[str, Any]] = {}
    for key in ("generated", "rejected"):
        path = run.file(key)
        if not path.exists():
            continue
        if repair:
            repair_torn_tail(path)
            rows = list(read_jsonl(path))  # a bad line that is not a torn tail is an error to see
        else:
            rows = [row for _, row in scan_jsonl(path) if not isinstance(row, BadLine)]
        final = [r for r in rows if not r.get("meta", {}).get("rejected", {}).get("retryable")]
        if repair and len(final) < len(rows):
            write_jsonl(path, final)
        done.update((r["id"], r) for r in final)
    return done


def drop_records(run: Run, ids: set[str]) -> None:
    """Take records out of the stage's files (stale ones, to be made again)."""
    if not ids:
        return
    for key in ("generated", "rejected"):
        path = run.file(key)
        if path.exists():
            write_jsonl(path, [r for r in read_jsonl(path) if r["id"] not in ids])


def dry_run(project: Project, run: Run, target: Target) -> dict[str, Any]:
    """The plan and its price, without a single request: what `studio generate --dry-run` prints."""
    generator = Generator(project, run, target, show_progress=False)
    configured = project.endpoint.structured_output
    generator.mode = configured if configured != "auto" else "json_schema"
    if configured == "auto" and run.file("cache").exists():
        # The mode this run negotiated before, so that records made with it are not counted as stale.
        cache = ReplyCache(run.file("cache"))
        generator.mode = cache.get_meta(generator.mode_key) or generator.mode
        cache.close()
    subtopics_file = run.file("subtopics")
    subtopics = json.loads(subtopics_file.read_text()) if subtopics_file.exists() else None
    items = plan(project, project.generate.n, subtopics)
    done = finished_records(run, repair=False)
    pending = [i for i in items if i.id not in done or done[i.id]["meta"].get("request_key") != generator.first_key(i)]
    tokens_in = sum(estimate_tokens(generator.request(i)[1]) for i in pending)
    requests = len(pending)
    if project.generate.subtopics and subtopics is None:
        axis = project.axes[project.generate.subtopics.axis]
        requests += len({v for vs in axis.values.values() for v in vs} if axis.by else set(axis.values))
    max_tokens = project.sampling.max_tokens
    spend = Spend(project.prices, target.model)
    return {
        "planned": len(items),
        "done": len(items) - len(pending),
        "requests": requests,
        "tokens_in": tokens_in,
        "tokens_out_max": requests * max_tokens,
        "cost_usd_max": spend.cost(tokens_in, requests * max_tokens),
        "model": target.model,
        "endpoint": target.public_url,
        "mode": "batch" if project.endpoint.batch else "live",
    }


def run_generate(
    project: Project, run: Run, target: Target, show_progress: bool = True, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the stage to the end (or the budget) and record it in the manifest."""
    with run.locked():
        generator = Generator(project, run, target, show_progress, say)
        # What is loaded by now (modules, the plan, compiled schemas) lives for the whole run: freezing it
        # keeps the cyclic GC from scanning it again and again while replies stream in.
        gc.freeze()
        try:
            result = asyncio.run(generator.generate())
        finally:
            gc.unfreeze()
        run.record_stage(
            "generate",
            {
                "fingerprint": generate_fingerprint(project, target),
                "inputs": [str(project.schema_path), str(project.prompts_dir)],
                "outputs": [run.file("generated").name, run.file("rejected").name],
                **result,
            },
        )
        return result


def generate_fingerprint(project: Project, target: Target) -> str:
    """What the stage's output depends on: its settings, the schema, the templates, the endpoint and model.
    Computed without starting anything, so the pipeline can skip an unchanged stage."""
    settings = project.model_dump(
        mode="json", include={"axes", "templates", "generate", "sampling", "domain", "endpoint"}
    )
    templates = Templates(project.prompts_dir)
    names = [t.name for t in project.templates] + (
        [project.generate.subtopics.template] if project.generate.subtopics else []
    )
    templates.check(names)
    examples = project.generate.seed_examples
    return stable_hash(
        settings,
        DomainSchema.load(project.schema_path).schema,
        {name: templates.content_hash(name) for name in names},
        file_hash(project.path(examples.file)) if examples and project.path(examples.file).exists() else None,
        target.identity,
        target.model,
    )
