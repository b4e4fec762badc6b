"""OpenAI's fine-tuning jobs endpoints, for tests/openai_server.py: the job lifecycle a client follows.

A job is created from a training file (and a validation file) uploaded to the server's files endpoint with
purpose fine-tune. It moves one status further at each GET, as OpenAI's does over minutes: validating_files
(the files are checked as OpenAI checks them: chat lines with an assistant turn, at least 10 examples),
queued, running (one training step per GET, each a metrics event), then succeeded, failed or cancelled.
Jobs are listed newest first, their events newest first. A succeeded job's model (`ft:BASE:studio-test::ID`)
answers chat completions with the assistant turn of the training example whose user turn shares the most
words with the request's: a model that learned its training set by heart, which an evaluation can tell from
its base.

Each created job takes the next of `outcomes` (the last repeats): succeeded; failed (OpenAI's internal error
during training, after some steps); cancelled (as if someone cancelled it in the dashboard). `steps` is how
many training steps (GETs while running) a job takes. `rate_429` answers that share of fine-tuning requests
with OpenAI's 429 and a Retry-After. `create_delay` answers a create request that many seconds after the job
was made: a client killed meanwhile never learns the job's id.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import urllib.parse
from typing import Any

OUTCOMES = ("succeeded", "failed", "cancelled")
MIN_EXAMPLES = 10
WORD = re.compile(r"\w+")


def invalid(
    message: str, param: str | None, code: str | None = "invalid_request", kind: str = "invalid_request_error"
) -> dict[str, Any]:
    """OpenAI's error body (the files, batches and chat endpoints of tests/openai_server.py answer with it too)."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class FineTuningAPI:
    def __init__(
        self,
        files: dict[str, dict[str, Any]],
        models: list[str],
        outcomes: list[str] | None = None,
        steps: int = 4,
        rate_429: float = 0.0,
        seed: int = 0,
        create_delay: float = 0.0,
    ):
        self.files = files  # the server's uploaded files: id -> {"object": file object, "content": bytes}
        self.models = models
        self.outcomes = outcomes or ["succeeded"]
        self.steps, self.rate_429, self.create_delay = steps, rate_429, create_delay
        self.rng = random.Random(seed)
        self.jobs: dict[str, dict[str, Any]] = {}  # in creation order
        self.plans: dict[str, dict[str, Any]] = {}  # job id -> outcome, statuses to go, steps done, examples
        self.events: dict[str, list[dict[str, Any]]] = {}  # job id -> events, oldest first
        self.tuned: dict[str, list[tuple[set[str], str]]] = {}  # fine-tuned model -> (user words, answer)
        self.refused = 0  # requests answered 429

    def stats(self) -> dict[str, Any]:
        return {
            "fine_tuning_jobs": [
                {k: job[k] for k in ("id", "status", "model", "training_file", "validation_file", "fine_tuned_model")}
                for job in self.jobs.values()
            ],
            "fine_tuning_429": self.refused,
        }

    async def route(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """(status, JSON payload) for a /v1/fine_tuning request."""
        if self.rate_429 and self.rng.random() < self.rate_429:
            self.refused += 1
            message = "Rate limit reached for requests. Please try again shortly."
            return 429, invalid(message, None, "rate_limit_exceeded", "requests")
        parts = path.strip("/").split("/")  # ["v1", "fine_tuning", "jobs", id?, action?]
        ident = parts[3] if len(parts) > 3 else None
        action = parts[4] if len(parts) > 4 else None
        if parts[2:3] != ["jobs"]:
            return 404, invalid(f"no route {method} {path}", None, None)
        if method == "POST" and ident is None:
            answer = self.create(json.loads(body or b"{}"))
            if self.create_delay:
                await asyncio.sleep(self.create_delay)
            return answer
        if method == "GET" and ident is None:
            return 200, self.page(list(reversed(self.jobs.values())), urllib.parse.parse_qs(query), "id")
        if ident not in self.jobs:
            return 404, invalid(f"No fine-tuning job found with id '{ident}'.", "fine_tuning_job_id", None)
        if method == "GET" and action is None:
            return 200, self.advance(ident)
        if method == "GET" and action == "events":
            newest = list(reversed(self.events[ident]))
            return 200, self.page(newest, urllib.parse.parse_qs(query), "id")
        if method == "POST" and action == "cancel":
            return self.cancel(ident)
        return 404, invalid(f"no route {method} {path}", None, None)

    def create(self, request: dict[str, Any]) -> tuple[int, Any]:
        model = request.get("model")
        if model not in self.models:
            return 400, invalid(
                f"Model {model} is not available for fine-tuning or does not exist.", "model", "model_not_available"
            )
        for field in ("training_file", "validation_file"):
            file_id = request.get(field)
            if file_id is None and field == "validation_file":
                continue
            if file_id not in self.files:
                return 400, invalid(f"invalid {field}: {file_id}", field, "invalid_request")
            purpose = self.files[file_id]["object"]["purpose"]
            if purpose != "fine-tune":
                return 400, invalid(
                    f"File {file_id} has purpose {purpose!r}, not 'fine-tune'.", field, "invalid_request"
                )
        suffix = request.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            return 400, invalid("suffix: a string of at most 64 characters.", "suffix", "invalid_request")
        job_id = f"ftjob-{len(self.jobs):06d}{self.rng.getrandbits(32):08x}"
        hyper = request.get("hyperparameters") or {}
        self.jobs[job_id] = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": model,
            "created_at": int(time.time()),
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-test",
            "result_files": [],
            "status": "validating_files",
            "validation_file": request.get("validation_file"),
            "training_file": request["training_file"],
            "hyperparameters": {
                "n_epochs": hyper.get("n_epochs", "auto"),
                "batch_size": hyper.get("batch_size", "auto"),
                "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto"),
            },
            "trained_tokens": None,
            "error": None,
            "seed": request.get("seed", 0),
            "estimated_finish": None,
            "integrations": [],
            "metadata": request.get("metadata"),
            "user_provided_suffix": suffix,
        }
        outcome = self.outcomes[min(len(self.jobs) - 1, len(self.outcomes) - 1)]
        self.plans[job_id] = {"outcome": outcome, "done": 0}
        self.events[job_id] = []
        self.event(job_id, f"Created fine-tuning job: {job_id}")
        self.event(job_id, f"Validating training file: {request['training_file']}")
        return 200, dict(self.jobs[job_id])

    def advance(self, job_id: str) -> dict[str, Any]:
        """The job one step further on (unless it has ended): what a GET sees."""
        job, plan = self.jobs[job_id], self.plans[job_id]
        status = job["status"]
        if status == "validating_files":
            problem = self.check_files(job)
            if problem:
                self.end(
                    job_id, "failed", {"code": "invalid_training_file", "message": problem, "param": "training_file"}
                )
            else:
                job["status"] = "queued"
                self.event(job_id, "Files validated, moving job to queued state")
        elif status == "queued":
            job["status"] = "running"
            self.event(job_id, "Fine-tuning job started")
        elif status == "running":
            plan["done"] += 1
            step, total = plan["done"], self.steps
            loss = round(2.5 * 0.8**step, 4)
            data = {"step": step, "total_steps": total, "train_loss": loss, "train_mean_token_accuracy": 0.5}
            self.event(job_id, f"Step {step}/{total}: training loss={loss}", data, "metrics")
            if plan["outcome"] == "failed" and step >= max(1, total // 2):
                self.end(
                    job_id,
                    "failed",
                    {"code": "internal_error", "message": "The job failed due to an internal error.", "param": None},
                )
            elif plan["outcome"] == "cancelled" and step >= max(1, total // 2):
                self.end(job_id, "cancelled", None)
            elif step >= total:
                self.succeed(job_id)
        return dict(job)

    def check_files(self, job: dict[str, Any]) -> str | None:
        """OpenAI's reason a file fails validation, or None."""
        for field in ("training_file", "validation_file"):
            file_id = job[field]
            if file_id is None:
                continue
            lines = [ln for ln in self.files[file_id]["content"].decode().splitlines() if ln.strip()]
            for n, line in enumerate(lines, 1):
                try:
                    messages = json.loads(line)["messages"]
                    answered = any(m["role"] == "assistant" and isinstance(m.get("content"), str) for m in messages)
                except (ValueError, KeyError, TypeError):
                    return f'Invalid file format. Line {n}, key "messages": a list of role and content objects.'
                if not answered:
                    return f"Invalid file format. Example {n} has no assistant message with content."
            if field == "training_file" and len(lines) < MIN_EXAMPLES:
                return f"Training file has {len(lines)} example(s), but must have at least {MIN_EXAMPLES} examples"
        return None

    def succeed(self, job_id: str) -> None:
        job = self.jobs[job_id]
        suffix = job["user_provided_suffix"] or ""
        name = f"ft:{job['model']}:studio-test:{suffix}:{job_id[-8:]}"
        examples = self.examples(job["training_file"])
        self.tuned[name] = [(set(WORD.findall(user.lower())), answer) for user, answer in examples]
        epochs = job["hyperparameters"]["n_epochs"]
        chars = sum(len(user) + len(answer) for user, answer in examples)
        job["fine_tuned_model"] = name
        job["trained_tokens"] = chars // 4 * (epochs if isinstance(epochs, int) else 3)
        self.event(job_id, f"New fine-tuned model created: {name}")
        self.end(job_id, "succeeded", None)

    def end(self, job_id: str, status: str, why: dict[str, Any] | None) -> None:
        job = self.jobs[job_id]
        job["status"], job["error"], job["finished_at"] = status, why, int(time.time())
        message = {
            "succeeded": "The job has successfully completed",
            "cancelled": "Fine-tuning job cancelled",
        }.get(status, why["message"] if why else "The job failed")
        self.event(job_id, message, level="error" if status == "failed" else "info")

    def cancel(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs[job_id]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return 400, invalid(f"Job {job_id} has already {job['status']}.", None, "invalid_request")
        self.end(job_id, "cancelled", None)
        return 200, dict(job)

    def event(
        self, job_id: str, message: str, data: dict[str, Any] | None = None, kind: str = "message", level: str = "info"
    ) -> None:
        events = self.events[job_id]
        events.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{job_id[6:12]}{len(events):04d}",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data or {},
                "type": kind,
            }
        )

    def examples(self, file_id: str) -> list[tuple[str, str]]:
        """(last user turn, last assistant turn) of every line of a training file."""
        out = []
        for line in self.files[file_id]["content"].decode().splitlines():
            if line.strip():
                messages = json.loads(line)["messages"]
                user = [m["content"] for m in messages if m["role"] == "user"]
                answer = [m["content"] for m in messages if m["role"] == "assistant"]
                out.append((user[-1] if user else "", answer[-1]))
        return out

    def reply(self, request: dict[str, Any]) -> str | None:
        """A fine-tuned model's answer: the training answer whose question shares the most words with the
        request's last user turn; None for a model that is not one of the jobs'."""
        learned = self.tuned.get(request.get("model") or "")
        if not learned:
            return None
        users = [m.get("content") or "" for m in request.get("messages") or [] if m.get("role") == "user"]
        words = set(WORD.findall(users[-1].lower())) if users else set()
        return max(learned, key=lambda pair: len(pair[0] & words))[1]

    @staticmethod
    def page(rows: list[dict[str, Any]], query: dict[str, list[str]], key: str) -> dict[str, Any]:
        """A list page as OpenAI's: `limit` (default 20) rows after the id `after`."""
        limit = int(query.get("limit", ["20"])[0])
        after = query.get("after", [None])[0]
        ids = [row[key] for row in rows]
        start = ids.index(after) + 1 if after in ids else 0
        chosen = rows[start : start + limit]
        return {"object": "list", "data": [dict(r) for r in chosen], "has_more": start + limit < len(rows)}
