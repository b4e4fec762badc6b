"""Client-side throughput controls: requests in flight (AIMD on 429s), requests and tokens per minute."""

from __future__ import annotations

import asyncio
import time


class AdaptiveConcurrency:
    """At most `limit` requests in flight. A 429 halves the limit, once per window: only a request sent after
    the last cut can cut again (the others answer for a limit already halved). Every `limit` successes in
    a row add one back, up to the configured ceiling (additive increase, multiplicative decrease, as TCP)."""

    def __init__(self, ceiling: int):
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_flight = 0
        self._cond = asyncio.Condition()
        self._successes = 0
        self._last_cut = 0.0

    async def __aenter__(self) -> AdaptiveConcurrency:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify()

    def throttled(self, sent_at: float) -> None:
        if sent_at > self._last_cut:
            self.limit = max(1.0, self.limit / 2)
            self._last_cut = time.monotonic()
        self._successes = 0

    def succeeded(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._successes += 1
        if self._successes >= int(self.limit):
            self._successes = 0
            self.limit = min(float(self.ceiling), self.limit + 1)
            self._wake()

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        asyncio.get_running_loop().create_task(notify())


class RateLimit:
    """A token bucket refilled at `per_minute / 60` a second that holds ten seconds' worth, so a run
    starts without a burst of a whole minute's allowance."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * 10)
        self.available = self.capacity
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.capacity, self.available + (now - self._last) * self.rate)
        self._last = now

    async def take(self, amount: float) -> None:
        # An amount above the capacity waits for a full bucket and then runs it into debt.
        amount_needed = min(amount, self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.available >= amount_needed:
                    self.available -= amount
                    return
                await asyncio.sleep((amount_needed - self.available) / self.rate)

    def refund(self, amount: float) -> None:
        """Correct an estimate once the real figure is known (negative to charge more)."""
        self.available = min(self.capacity, self.available + amount)
