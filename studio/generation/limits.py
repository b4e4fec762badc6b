"""Client-side throughput controls: requests in flight (AIMD on 429s and on queueing), requests and tokens per
minute."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque


class AdaptiveConcurrency:
    """How many requests one endpoint may have in flight, and how many it has (the fleet takes and gives them).

    Two signals move the limit. A 429 halves it, once per window: only a request sent after the last cut can
    cut again (the others answer for a limit already halved). A server that queues instead of refusing says so
    by its pace, the seconds a reply took per token it wrote: when the recent pace is well above the best seen,
    requests wait in its queue, and the limit steps down by one, once per window (Vegas: the queue estimated as
    limit x (1 - best / recent), kept between alpha and beta, which grow with the log of the limit). Every
    `limit` successes in a row with no queue add one back, up to the configured ceiling (additive increase).

    The pace is watched only with `paced` (the servers of a fleet, where a queueing one must not hold requests
    another could serve): a lone endpoint's replies vary in pace for reasons of their own (a hosted API's time to
    first token), and it has no other place to send them."""

    def __init__(self, ceiling: int, paced: bool = False):
        self.ceiling, self.paced = ceiling, paced
        self.limit = float(ceiling)
        self.in_flight = 0
        self._successes = 0
        self._last_cut = 0.0
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._best: deque[float] = deque(maxlen=BEST_OF)

    def free(self) -> int:
        return int(self.limit) - self.in_flight

    def throttled(self, sent_at: float) -> None:
        self._cut(sent_at, self.limit / 2)

    def failed(self) -> None:
        """The endpoint failed (refused the connection, timed out, answered 5xx): it starts again from one."""
        self.limit, self._successes = 1.0, 0
        self._last_cut = time.monotonic()

    def succeeded(self, sent_at: float = 0.0, seconds: float = 0.0, tokens: int = 0) -> bool:
        """A reply came back (`seconds` after it was sent, with `tokens` written). True when the limit rose."""
        if self.paced and seconds > 0 and tokens > 0:
            pace = seconds / tokens
            self._recent.append(pace)
            self._best.append(pace)
            if len(self._recent) == RECENT:
                recent = sorted(self._recent)[RECENT // 2]
                queued = self.limit * (1 - min(self._best) / recent)
                alpha, beta = max(1.0, math.log10(self.limit + 1)), max(2.0, 3 * math.log10(self.limit + 1))
                if queued > beta:
                    self._cut(sent_at, self.limit - (queued - alpha))  # down to a short queue
                    return False
                if queued > alpha:
                    return False  # a short queue keeps the server busy: hold
        if self.limit >= self.ceiling:
            return False
        self._successes += 1
        if self._successes >= int(self.limit):
            self._successes = 0
            self.limit = min(float(self.ceiling), self.limit + 1)
            return True
        return False

    def _cut(self, sent_at: float, to: float) -> None:
        if sent_at > self._last_cut:
            self.limit = max(1.0, to)
            self._last_cut = time.monotonic()
        self._successes = 0


# Paces the queue is judged on: the median of the last RECENT replies against the best of the last BEST_OF.
RECENT = 9
BEST_OF = 200


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
