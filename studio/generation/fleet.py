"""The endpoints a run's requests go to: one, or a fleet (`endpoint.base_url` as a list of servers that serve
the same model, e.g. vLLM or llama.cpp on several machines).

Each request goes to the endpoint with the most free room (its own adaptive limit less what it has in flight).
An endpoint of a fleet that fails (refused connection, timeout, 5xx) is taken out for a cool-down that doubles
with each failure in a row (up to a minute), then let back in with room for one request; a success restores it.
The request that failed goes straight to another endpoint. A lone endpoint is never taken out: its retries wait
out their backoff instead, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import openai

from studio.generation.limits import AdaptiveConcurrency
from studio.target import public_url

COOL_DOWN_S = 1.0
COOL_DOWN_CAP_S = 60.0


@dataclass
class Member:
    base_url: str
    openai: openai.AsyncOpenAI
    limit: AdaptiveConcurrency
    down_until: float = 0.0
    out_since: float = 0.0  # when it was last taken out
    failures: int = 0  # in a row
    counts: dict[str, int] = field(default_factory=lambda: {"requests": 0, "failures": 0, "taken_out": 0})

    @property
    def name(self) -> str:
        return public_url(self.base_url)


class Fleet:
    def __init__(self, members: list[Member], say: Callable[[str], None] | None = None):
        self.members, self.say = members, say
        self._changed = asyncio.Condition()

    async def take(self) -> Member:
        """The endpoint to send the next request to, once one has room (its room taken)."""
        async with self._changed:
            while True:
                now = time.monotonic()
                up = [m for m in self.members if m.down_until <= now and m.limit.free() > 0]
                if up:
                    member = max(up, key=lambda m: m.limit.free())
                    member.limit.in_flight += 1
                    member.counts["requests"] += 1
                    return member
                # All full or out: wait for room, or for the first cool-down to end.
                back = [m.down_until for m in self.members if m.down_until > now]
                try:
                    async with asyncio.timeout(min(back) - now if back else None):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    async def give(self, member: Member) -> None:
        async with self._changed:
            member.limit.in_flight -= 1
            self._changed.notify()  # one room freed, one waiter: any waiter can take any server's room

    def succeeded(self, member: Member, sent_at: float, seconds: float, tokens: int) -> None:
        if member.failures and len(self.members) > 1 and self.say:
            self.say(f"endpoint {member.name} answers again; back in the fleet")
        member.failures = 0
        if member.limit.succeeded(sent_at, seconds, tokens):
            self._wake()

    def throttled(self, member: Member, sent_at: float) -> None:
        member.limit.throttled(sent_at)

    def failed(self, member: Member, why: str, sent_at: float) -> bool:
        """A transport or server failure of `member` to a request sent at `sent_at`. True when another endpoint
        can take the retry at once."""
        member.counts["failures"] += 1
        if len(self.members) == 1:
            return False
        now = time.monotonic()
        if sent_at < member.out_since:  # sent before it was taken out: the same failure, told again
            return any(m.down_until <= now for m in self.members)
        member.failures += 1
        member.limit.failed()
        cool = min(COOL_DOWN_CAP_S, COOL_DOWN_S * 2 ** (member.failures - 1))
        member.out_since, member.down_until = now, now + cool
        member.counts["taken_out"] += 1
        if member.failures == 1 and self.say:
            self.say(f"endpoint {member.name} failed ({why}); taken out of the fleet, tried again in {cool:g} s")
        return any(m.down_until <= now for m in self.members)

    def by_endpoint(self) -> dict[str, dict[str, int]]:
        return {m.name: dict(m.counts) for m in self.members}

    async def close(self) -> None:
        for m in self.members:
            await m.openai.close()

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())
