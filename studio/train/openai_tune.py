"""train.backend openai: the tune stage as a job on OpenAI's fine-tuning API (or any provider of its files and
fine-tuning jobs endpoints).

The splits are made as for a local tune; the training and validation splits go up as chat JSONL (the turns
of the exported chat file), one job is created and followed until it ends, and model/ records the tuned
model's name for studio eval, with a model card.

Nothing paid for is asked twice: checkpoints/openai-job.json holds the uploaded files' ids before the job is
created and the job's id as soon as the API answers, so a run killed at any point follows the same job when
started again; a job created by a request whose answer never came is found by its training file. The file
stays after the job succeeded, since a kill before the engine commits the stage's outputs must not lose the
job. A job that failed or was cancelled stops the run with its reason; the next run creates a new one.
Changed settings or data, or --force, cancel a job still running for the old ones.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from studio.errors import StudioError, api_error
from studio.records import write_json
from studio.stage import Context
from studio.train import tune
from studio.training_examples import chat_messages

OPENAI_API = "https://api.openai.com/v1"
STATE = "openai-job.json"
ENDED = ("succeeded", "failed", "cancelled")
METRICS_EVERY_S = 60
MODEL_FILE = "tuned_model.json"  # in model/: what studio eval calls, and the job that made it


def client(ctx: Context) -> Any:
    """The OpenAI client of the fine-tuning API: train.openai.base_url, else the project's endpoint, else OpenAI."""
    from openai import OpenAI

    settings = ctx.project.train.openai
    endpoint = ctx.project.endpoint.base_url
    base_url = settings.base_url or (endpoint[0] if isinstance(endpoint, list) else endpoint) or OPENAI_API
    key = os.environ.get(settings.api_key_env)
    if not key and base_url == OPENAI_API:
        raise StudioError(f"set {settings.api_key_env} to an OpenAI API key", None, "train.openai.api_key_env")
    # The SDK retries 429s and 5xx itself, as long as Retry-After says.
    return OpenAI(base_url=base_url, api_key=key or "not-needed", max_retries=8, timeout=60)


def run_openai_tune(ctx: Context, source: Path) -> dict[str, Any]:
    project, say = ctx.project, ctx.say
    settings = project.train
    started = time.monotonic()
    _, splits, moved = tune.split_source(ctx, source)
    counts = {name: splits[name].num_rows for name in splits}
    api = client(ctx)
    folder = ctx.run.dir / tune.CHECKPOINTS
    state = _state(folder)
    if state.get("fingerprint") != ctx.fingerprint or ctx.force:
        if state.get("job"):
            _cancel(api, state["job"], say)
        state = {"fingerprint": ctx.fingerprint, "failed": state.get("failed", [])}
        _save(folder, state)
    resumed = bool(state.get("job"))
    if not resumed:
        state["files"] = state.get("files") or _upload(api, splits, project.domain.title, folder, say)
        _save(folder, state)
        job = _adopt(api, state["files"]["train"])
        if job:
            say(f"tune: found fine-tuning job {job.id}, created from these files by a run killed before the answer")
        else:
            job = _create(api, ctx, state["files"])
            say(
                f"tune: fine-tuning job {job.id} created: {settings.base_model} on {counts['train']} training and "
                f"{counts['validation']} validation examples"
            )
        state["job"] = job.id
        _save(folder, state)
    else:
        say(f"tune: following fine-tuning job {state['job']}, created by an earlier run")
    job = _follow(api, state["job"], settings.openai.poll_s, say)
    if job.status != "succeeded":
        why = job.error.message if job.error and job.error.message else job.status
        state["failed"] = [*state.get("failed", []), job.id]
        state.pop("job")
        _save(folder, state)
        raise JobEnded(f"fine-tuning job {job.id} {job.status}: {why}; the next run creates a new job")
    losses = _losses(api, job.id)
    entry = {
        "task": settings.task,
        "backend": "openai",
        "method": "openai fine-tuning job",
        "base_model": settings.base_model,
        "fine_tuned_model": job.fine_tuned_model,
        "job": job.id,
        "labels": [],
        "settings": settings.model_dump(mode="json", exclude={"eval"}),
        "hyperparameters": job.hyperparameters.model_dump(mode="json") if job.hyperparameters else None,
        "counts": {**counts, "moved_from_test": len(moved)},
        "decontaminated": moved,
        "trained_tokens": job.trained_tokens,
        "steps": losses["train"][-1][0] if losses["train"] else None,
        "losses": losses,
        "device": "the provider's",
        "resumed": resumed,
        "failed_jobs": state.get("failed", []),
        "job_seconds": (job.finished_at - job.created_at) if job.finished_at else None,
        "seconds": round(time.monotonic() - started, 2),
    }
    model_dir = ctx.output("model")
    model_dir.mkdir(parents=True, exist_ok=True)
    write_json(model_dir / MODEL_FILE, {k: entry[k] for k in ("backend", "base_model", "fine_tuned_model", "job")})
    from studio.train import card

    card.write(model_dir, ctx.run, {**entry, "inputs": [source.name]})
    say(f"tune: {job.id} succeeded: {job.fine_tuned_model} ({job.trained_tokens or 0:,} trained tokens)")
    return entry


class JobEnded(Exception):
    """The provider's job failed or was cancelled: the stage ends incomplete (the run stops), and the next run
    creates a new job."""


def _upload(api: Any, splits: Any, title: str, folder: Path, say: Any) -> dict[str, str | None]:
    """The training and validation splits as chat JSONL files with purpose fine-tune; their ids."""
    ids: dict[str, str | None] = {}
    for name in ("train", "validation"):
        rows = list(splits[name])
        if not rows:
            ids[name] = None
            continue
        path = folder / f"openai-{name}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for example in rows:
                messages = chat_messages(title, example["prompt"], example["text"])
                f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
        with open(path, "rb") as f:
            ids[name] = call(lambda f=f: api.files.create(file=f, purpose="fine-tune")).id
        say(f"tune: uploaded the {name} split ({len(rows)} examples) as {ids[name]}")
    return ids


def _adopt(api: Any, training_file: str) -> Any:
    """A live job already made from this training file: one whose create request was killed before its answer."""
    for job in call(lambda: api.fine_tuning.jobs.list(limit=100)).data:
        if job.training_file == training_file and job.status not in ("failed", "cancelled"):
            return job
    return None


def _create(api: Any, ctx: Context, files: dict[str, str | None]) -> Any:
    settings = ctx.project.train
    options: dict[str, Any] = {"hyperparameters": {"n_epochs": settings.openai.n_epochs}, "seed": settings.seed}
    if files.get("validation"):
        options["validation_file"] = files["validation"]
    if settings.openai.suffix:
        options["suffix"] = settings.openai.suffix
    return call(lambda: api.fine_tuning.jobs.create(model=settings.base_model, training_file=files["train"], **options))


def _follow(api: Any, job_id: str, poll_s: float, say: Any) -> Any:
    """Look at the job every `poll_s` seconds until it ends, saying each new event of the provider's; of its
    metrics (an event a training step), one line a minute and the last."""
    seen: set[str] = set()
    said_metrics, latest = 0.0, None
    while True:
        job = call(lambda: api.fine_tuning.jobs.retrieve(job_id))
        events = call(lambda: api.fine_tuning.jobs.list_events(job_id, limit=100)).data
        for event in reversed(events):  # newest first from the API
            if event.id in seen:
                continue
            seen.add(event.id)
            if event.type == "metrics":
                latest = event
                if time.monotonic() - said_metrics < METRICS_EVERY_S:
                    continue
            elif latest is None:
                say(f"tune: {job_id}: {event.message}")
                continue
            # The last training step before a message (the job's end, say), or the first in a minute.
            say(f"tune: {job_id}: {latest.message}")
            said_metrics, latest = time.monotonic(), None
            if event.type != "metrics":
                say(f"tune: {job_id}: {event.message}")
        if job.status in ENDED:
            return job
        time.sleep(poll_s)


def _losses(api: Any, job_id: str) -> dict[str, list[list[float]]]:
    """Training and validation loss by step, from the job's metrics events (every page)."""
    train, validation = [], []
    for event in call(lambda: api.fine_tuning.jobs.list_events(job_id, limit=100)):
        data = event.data if isinstance(event.data, dict) else {}
        if event.type == "metrics" and "step" in data:
            if data.get("train_loss") is not None:
                train.append([data["step"], round(data["train_loss"], 4)])
            if data.get("valid_loss") is not None:
                validation.append([data["step"], round(data["valid_loss"], 4)])
    return {"train": sorted(train), "validation": sorted(validation)}


def _cancel(api: Any, job_id: str, say: Any) -> None:
    job = call(lambda: api.fine_tuning.jobs.retrieve(job_id))
    if job.status not in ENDED:
        call(lambda: api.fine_tuning.jobs.cancel(job_id))
        say(f"tune: cancelled fine-tuning job {job_id}: it was made from other settings or data")


def call(request: Any) -> Any:
    """The API's answer; its refusal or an unreachable endpoint as one line."""
    import openai

    try:
        return request()
    except openai.APIStatusError as e:
        raise StudioError(f"the fine-tuning API refused: {api_error(e)}", None, "train.openai") from None
    except openai.APIConnectionError as e:
        raise StudioError(f"the fine-tuning API is unreachable: {e}", None, "train.openai.base_url") from None


def _state(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return {}


def _save(folder: Path, state: dict[str, Any]) -> None:
    write_json(folder / STATE, state)
