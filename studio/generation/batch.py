"""The OpenAI Batch API as a generation mode that never pays twice for a request.

The requests go out in chunks (at most `endpoint.batch_max_requests` requests and `batch_max_bytes` bytes
a batch file, OpenAI's limits by default). Each chunk is written down in the run's cache at every step,
so a run killed at any moment finds its paid work again:

1. upload the chunk's batch file;
2. record the chunk's intent (its id, the uploaded file's id, its request keys) *before* creating the batch;
3. create the batch with `metadata={"studio_chunk": <chunk id>}`, then record its batch id;
4. poll until it ends, put every reply into the cache, and only then forget the chunk.

A kill between 2 and 3 (or while create is in flight, its answer lost) leaves an intent without a batch
id: the next run looks for the batch by its metadata in `batches.list`, polls it if found, and otherwise
creates it from the file already uploaded. A kill before 2 costs an uploaded file, never a batch.

A resumed run polls every open chunk first, whatever requests it holds (a changed plan does not orphan a
paid batch), and submits new chunks only for requests that are neither cached nor in an open chunk.
Requests that a failed, expired or cancelled batch left unanswered come back as failures with the reason;
the generate stage rejects their items as retryable, and the next run submits them again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import openai
from openai.types import Batch

from studio.errors import StudioError, api_error
from studio.generation.cache import ReplyCache
from studio.generation.client import AwaitingBatch, Client, Reply, RequestFailed, backoff
from studio.generation.live import Step
from studio.generation.plan import PlannedItem
from studio.project import Endpoint

ENDED = ("completed", "failed", "expired", "cancelled")
CHUNK_PREFIX = "batch:chunk:"
RUN_TAG_KEY = "batch:run"
METADATA_KEY = "studio_chunk"
ENDPOINT = "/v1/chat/completions"
# Batches created this long before an intent was recorded cannot be its batch (allows for clock skew
# between this machine and the provider); the newest-first listing is read no further than that.
LOOKBACK_S = 3600
# An upload of up to 200 MB needs longer than one chat reply's timeout.
UPLOAD_TIMEOUT_S = 900.0
# Errors after which the same call may succeed; with create, the batch may even exist already.
TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)

T = TypeVar("T")


@dataclass
class Chunk:
    """One batch file's worth of requests, as recorded in the cache until its replies are collected."""

    id: str
    file_id: str
    keys: list[str]
    recorded: float  # when the intent was written (time.time())
    batch_id: str | None = None

    def save(self, cache: ReplyCache) -> None:
        cache.set_meta(CHUNK_PREFIX + self.id, asdict(self))

    def forget(self, cache: ReplyCache) -> None:
        cache.delete_meta(CHUNK_PREFIX + self.id)


def open_chunks(cache: ReplyCache) -> list[Chunk]:
    """Every chunk submitted (or about to be) whose replies are not collected yet, oldest first."""
    chunks = [Chunk(**value) for value in cache.meta_with_prefix(CHUNK_PREFIX).values()]
    return sorted(chunks, key=lambda c: c.recorded)


def run_tag(cache: ReplyCache) -> str:
    """A random token made once per run folder (its cache): chunk ids of two runs never meet, even on the
    same account and with the same requests."""
    tag = cache.get_meta(RUN_TAG_KEY)
    if tag is None:
        tag = secrets.token_hex(6)
        cache.set_meta(RUN_TAG_KEY, tag)
    return str(tag)


def batch_line(key: str, body: dict[str, Any]) -> bytes:
    """One line of a batch file: the cache key as custom_id, and the chat completions body."""
    return (json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}) + "\n").encode()


def split(
    requests: dict[str, dict[str, Any]], max_requests: int, max_bytes: int
) -> tuple[list[dict[str, bytes]], dict[str, str]]:
    """The requests as batch files (key -> line) within both limits, in order; and the requests that fit in
    no file (one line larger than max_bytes), with the reason."""
    files: list[dict[str, bytes]] = []
    too_big: dict[str, str] = {}
    current: dict[str, bytes] = {}
    size = 0
    for key, body in requests.items():
        line = batch_line(key, body)
        if len(line) > max_bytes:
            too_big[key] = f"the request is {len(line):,} bytes, more than endpoint.batch_max_bytes ({max_bytes:,})"
            continue
        if current and (len(current) >= max_requests or size + len(line) > max_bytes):
            files.append(current)
            current, size = {}, 0
        current[key] = line
        size += len(line)
    if current:
        files.append(current)
    return files, too_big


class BatchExecutor:
    """Rounds of batches: round 1 collects every item's first request into one batch; round 2 the repairs;
    and so on. Between rounds every item whose replies are all cached is made (from the cache)."""

    def __init__(
        self,
        client: Client,
        cache: ReplyCache,
        settings: Endpoint,
        say: Callable[[str], None],
        after_round: Callable[[int], None],
    ):
        self.client, self.cache, self.settings, self.say = client, cache, settings, say
        self.after_round = after_round  # told how many requests the round's batches held
        self.collected: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, str] = {}  # key -> why the last round's batch left it unanswered

    async def send(self, key: str, messages: list[dict[str, str]], params: dict[str, Any]) -> Reply:
        if key in self.failures:
            raise RequestFailed(self.failures.pop(key), 1, retryable=True)
        self.collected[key] = {"model": self.client.model, "messages": messages, **params}
        raise AwaitingBatch

    async def run(self, pending: list[tuple[PlannedItem, int]], step: Step) -> None:
        while pending:
            self.collected, waiting = {}, []
            for item, retry in pending:
                try:
                    if not await step(item, retry):
                        break
                except AwaitingBatch:
                    waiting.append((item, retry))
            if not self.collected:
                return
            self.failures = await run_batch(self.client, self.cache, self.collected, self.settings, self.say)
            self.after_round(len(self.collected))
            pending = waiting


async def run_batch(
    client: Client,
    cache: ReplyCache,
    requests: dict[str, dict[str, Any]],
    settings: Endpoint,
    say: Callable[[str], None],
) -> dict[str, str]:
    """Poll the open chunks, submit what `requests` still miss in new chunks, wait until every chunk has
    ended (a look every `settings.batch_poll_s`), cache every reply. Returns {key: reason} for the requested
    keys that got no reply."""
    try:
        return await _run(client, cache, requests, settings, say)
    except openai.APIError as e:
        # Whatever was submitted stays recorded in the cache: running again polls it, nothing is paid twice.
        raise StudioError(
            f"the Batch API failed ({e}); the batches submitted so far are recorded: run again to resume",
            None,
            "endpoint.base_url",
        ) from None


async def _run(
    client: Client,
    cache: ReplyCache,
    requests: dict[str, dict[str, Any]],
    settings: Endpoint,
    say: Callable[[str], None],
) -> dict[str, str]:
    api = client.fleet.members[0].openai  # a batch goes to one endpoint: a fleet is refused in batch mode
    chunks = open_chunks(cache)
    if chunks:
        held = sum(len(c.keys) for c in chunks)
        say(f"{len(chunks)} batch chunk(s) of an earlier run still open ({held} request(s)): polling them first")
    in_chunks = {key for chunk in chunks for key in chunk.keys}
    missing = {k: body for k, body in requests.items() if k not in in_chunks and cache.get(k) is None}
    files, failures = split(missing, settings.batch_max_requests, settings.batch_max_bytes)

    # Intents left without a batch id by a killed run: find their batch, or create it from their file.
    for chunk in chunks:
        if chunk.batch_id is None:
            found = await _retry(settings, _find, api, chunk)
            if found is not None:
                chunk.batch_id = found.id
                chunk.save(cache)
                say(f"found batch {found.id} of chunk {chunk.id} ({len(chunk.keys)} request(s)): polling it")
    tag = run_tag(cache)
    for lines in files:
        chunks.append(await _upload(api, cache, tag, lines, settings, say))
    for chunk in chunks:
        if chunk.batch_id is None:
            failures.update(await _create(api, cache, chunk, settings, say))

    waiting = {c.id: c for c in chunks if c.batch_id is not None}
    seen: dict[str, str] = {}
    while waiting:
        for chunk in list(waiting.values()):
            batch = await _retry(settings, api.batches.retrieve, chunk.batch_id)
            counts = batch.request_counts
            state = batch.status + (f", {counts.completed}/{counts.total} answered" if counts and counts.total else "")
            if seen.get(chunk.id) != state:
                say(f"batch {batch.id}: {state}")
                seen[chunk.id] = state
            if batch.status in ENDED:
                failures.update(await _collect(api, client, cache, chunk, batch, settings))
                del waiting[chunk.id]
        if waiting:
            await asyncio.sleep(settings.batch_poll_s)

    unanswered = {}
    for key in requests:
        if cache.get(key) is None:
            unanswered[key] = failures.get(key) or "the batch ended without a reply for this request"
    return unanswered


async def _retry(settings: Endpoint, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """`call` again after a transient error, with jittered exponential backoff, up to endpoint.max_attempts tries.
    Only for calls that may be repeated safely (a retrieve, a list, a download, an upload)."""
    for attempt in range(1, settings.max_attempts + 1):
        try:
            return await call(*args, **kwargs)
        except TRANSIENT:
            if attempt == settings.max_attempts:
                raise
            await asyncio.sleep(backoff(attempt))
    raise AssertionError("unreachable")


async def _find(api: openai.AsyncOpenAI, chunk: Chunk) -> Batch | None:
    """The batch created for `chunk`, by its metadata; the listing is newest first, so it is read back to
    the time the intent was recorded and no further."""
    async for batch in api.batches.list(limit=100):
        if (batch.metadata or {}).get(METADATA_KEY) == chunk.id and batch.input_file_id == chunk.file_id:
            return batch
        if batch.created_at < chunk.recorded - LOOKBACK_S:
            break
    return None


async def _upload(
    api: openai.AsyncOpenAI,
    cache: ReplyCache,
    tag: str,
    lines: dict[str, bytes],
    settings: Endpoint,
    say: Callable[[str], None],
) -> Chunk:
    data = b"".join(lines.values())
    try:
        uploaded = await _retry(
            settings,
            api.files.create,
            file=("studio-batch.jsonl", data),
            purpose="batch",
            timeout=max(settings.timeout_s, UPLOAD_TIMEOUT_S),
        )
    except openai.APIStatusError as e:
        raise StudioError(f"the endpoint refused the batch file: {api_error(e)}", None, "endpoint.batch") from None
    chunk = Chunk(id=f"{tag}-{secrets.token_hex(4)}", file_id=uploaded.id, keys=list(lines), recorded=time.time())
    # The intent, before create: from here on a killed run finds this chunk's batch instead of paying again.
    chunk.save(cache)
    say(f"uploaded {uploaded.id} for chunk {chunk.id}: {len(lines)} request(s), {len(data):,} bytes")
    return chunk


async def _create(
    api: openai.AsyncOpenAI, cache: ReplyCache, chunk: Chunk, settings: Endpoint, say: Callable[[str], None]
) -> dict[str, str]:
    """Create the chunk's batch and record its id. Returns failures for its keys if the endpoint could not
    be reached (the intent stays, so the next run finds or creates the batch); raises if it refused."""
    for attempt in range(1, settings.max_attempts + 1):
        try:
            batch = await api.batches.create(
                input_file_id=chunk.file_id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={METADATA_KEY: chunk.id},
            )
            break
        except TRANSIENT as e:
            # The batch may exist although its answer was lost: look before creating another one.
            found = await _retry(settings, _find, api, chunk)
            if found is not None:
                batch = found
                break
            if attempt == settings.max_attempts:
                reason = f"could not create the batch of chunk {chunk.id}: {e}"
                say(reason + "; the next run tries again")
                return dict.fromkeys(chunk.keys, reason)
            await asyncio.sleep(backoff(attempt))
        except openai.APIStatusError as e:
            # Refused (too many requests, too large, file gone): no batch exists, so the chunk is forgotten
            # and its requests go into a new chunk once the settings are right.
            chunk.forget(cache)
            raise StudioError(
                f"the endpoint refused to create a batch of {len(chunk.keys)} request(s) from {chunk.file_id}:"
                f" {api_error(e)} (endpoint.batch_max_requests and batch_max_bytes size a batch file)",
                None,
                "endpoint",
            ) from None
    chunk.batch_id = batch.id
    chunk.save(cache)
    say(f"submitted batch {batch.id} for chunk {chunk.id} with {len(chunk.keys)} request(s)")
    return {}


async def _collect(
    api: openai.AsyncOpenAI, client: Client, cache: ReplyCache, chunk: Chunk, batch: Batch, settings: Endpoint
) -> dict[str, str]:
    """Cache every reply of an ended batch, then forget its chunk. Returns the reason for each of the
    chunk's keys still without a reply."""
    errors: dict[str, str] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await _retry(settings, api.files.content, file_id)
        for line in content.text.splitlines():
            if line.strip():
                key, reply, error = _result(json.loads(line), batch.id)
                if reply is not None:
                    cache.put(key, {**reply.to_dict(), "model": client.model})
                else:
                    errors[key] = error or "no reply"
    missing = _unanswered(batch)
    failures = {key: errors.get(key, missing) for key in chunk.keys if cache.get(key) is None}
    # Forgotten only now: a kill before this line collects the same files again, which costs nothing.
    chunk.forget(cache)
    return failures


def _unanswered(batch: Batch) -> str:
    """Why a request of `batch` has no line in its output or error file."""
    if batch.status == "expired":
        return f"batch {batch.id} expired before this request was answered"
    if batch.status == "cancelled":
        return f"batch {batch.id} was cancelled before this request was answered"
    if batch.status == "failed":
        found = [e.message or e.code or "" for e in (batch.errors.data or [])] if batch.errors else []
        return f"batch {batch.id} failed: {'; '.join(m for m in found if m) or 'no reason given'}"
    return f"batch {batch.id} ended '{batch.status}' without a reply for this request"


def _result(row: dict[str, Any], batch_id: str) -> tuple[str, Reply | None, str | None]:
    """One line of an output or error file: (key, reply, None) or (key, None, reason)."""
    key = row["custom_id"]
    response = row.get("response") or {}
    error = row.get("error")
    if error or response.get("status_code") != 200:
        error = error or (response.get("body") or {}).get("error") or {}
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(error)
        if code == "batch_expired":
            return key, None, f"batch {batch_id} expired before this request was answered"
        if code == "batch_cancelled":
            return key, None, f"batch {batch_id} was cancelled before this request was answered"
        status = response.get("status_code")
        return key, None, f"batch {batch_id}: " + (f"HTTP {status}: " if status else "") + (message or code or "error")
    try:
        body = response["body"]
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        reply = Reply(
            text=choice["message"]["content"] or "",
            finish_reason=choice.get("finish_reason"),
            model=body.get("model", ""),
            tokens_in=usage.get("prompt_tokens", 0),
            tokens_out=usage.get("completion_tokens", 0),
            seconds=0.0,
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        return key, None, f"batch {batch_id}: a reply without a chat completion in it"
    return key, reply, None
