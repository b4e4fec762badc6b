"""The OpenAI Batch API as a generation mode: write the requests as a JSONL batch file, upload it, create
a batch, poll until it ends, and collect the replies into the run's cache.

A submitted batch is remembered in the cache under a hash of the requests it holds, so a run killed
while the provider works on it polls the same batch again instead of paying for a second one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from studio.generation.cache import ReplyCache
from studio.generation.client import Client, Reply
from studio.records import stable_hash

ENDED = ("completed", "failed", "expired", "cancelled")


def batch_file(requests: dict[str, dict[str, Any]]) -> bytes:
    """One line per request: the cache key as custom_id, and the chat completions body."""
    lines = (
        json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body})
        for key, body in requests.items()
    )
    return ("\n".join(lines) + "\n").encode()


async def run_batch(
    client: Client,
    cache: ReplyCache,
    requests: dict[str, dict[str, Any]],
    poll_s: float,
    say: Callable[[str], None],
) -> dict[str, str]:
    """Submit (or find again) the batch for `requests`, wait for it, cache every reply.
    Returns the requests that got no reply, with the reason."""
    api = client.openai
    marker = f"batch:{stable_hash(sorted(requests), length=24)}"
    batch_id = cache.get_meta(marker)
    if batch_id is None:
        uploaded = await api.files.create(file=("studio-batch.jsonl", batch_file(requests)), purpose="batch")
        batch = await api.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch_id = batch.id
        cache.set_meta(marker, batch_id)
        say(f"submitted batch {batch_id} with {len(requests)} request(s)")
    else:
        say(f"resuming batch {batch_id}")
    batch = await api.batches.retrieve(batch_id)
    while batch.status not in ENDED:
        await asyncio.sleep(poll_s)
        batch = await api.batches.retrieve(batch_id)
    failed: dict[str, str] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await api.files.content(file_id)
        for line in content.text.splitlines():
            if line.strip():
                key, reply, error = _result(json.loads(line))
                if reply is not None:
                    cache.put(key, {**reply.to_dict(), "model": client.model})
                else:
                    failed[key] = error or "no reply"
    for key in requests:
        if cache.get(key) is None and key not in failed:
            failed[key] = f"batch {batch_id} ended '{batch.status}' without a reply for this request"
    # A finished batch is not looked for again: a later round submits what is still missing.
    cache.set_meta(marker, None)
    return failed


def _result(row: dict[str, Any]) -> tuple[str, Reply | None, str | None]:
    key = row["custom_id"]
    response = row.get("response") or {}
    if row.get("error") or response.get("status_code") != 200:
        error = row.get("error") or response.get("body", {}).get("error") or response.get("status_code")
        return key, None, f"batch error: {error}"
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
    return key, reply, None
