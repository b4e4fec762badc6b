"""Live requests: each request goes to the endpoint as soon as its item needs it, `workers` items at a time
(the client's adaptive limit keeps the endpoint within its rate limits)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from studio.errors import StudioError
from studio.generation.client import Client, Reply

# Does one piece of work (a planned item and its retry number; a record to judge) and records it; False once
# the run must stop (a budget).
Step = Callable[[Any, int], Awaitable[bool]]


class LiveExecutor:
    def __init__(self, client: Client, workers: int):
        self.client, self.workers = client, workers

    async def send(self, key: str, messages: list[dict[str, str]], params: dict[str, Any]) -> Reply:
        return await self.client.chat(messages, params)

    async def run(self, pending: list[tuple[Any, int]], step: Step) -> None:
        queue = iter(pending)

        async def worker() -> None:
            for item, retry in queue:
                if not await step(item, retry):
                    return

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.workers, max(1, len(pending)))):
                    group.create_task(worker())
        except ExceptionGroup as eg:
            # One clear error, not a group: a StudioError (bad template, refused key) wins.
            errors = [e for e in eg.exceptions if isinstance(e, StudioError)]
            raise (errors[0] if errors else eg.exceptions[0]) from None
