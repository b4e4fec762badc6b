"""Throughput controls: AIMD concurrency, token buckets, Retry-After parsing (pure logic, no server)."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai

from studio.generation.client import backoff, retry_after
from studio.generation.fleet import Fleet, Member
from studio.generation.limits import AdaptiveConcurrency, RateLimit


def test_429s_halve_concurrency_and_successes_bring_it_back() -> None:
    async def scenario() -> list[float]:
        limit = AdaptiveConcurrency(16)
        seen = [limit.limit]
        sent = time.monotonic()
        limit.throttled(sent_at=sent)
        seen.append(limit.limit)
        limit.throttled(sent_at=sent)  # sent before the cut: the same window, not halved again
        seen.append(limit.limit)
        limit.throttled(sent_at=time.monotonic())  # sent after the cut, and refused still
        seen.append(limit.limit)
        for _ in range(4 + 5 + 6):  # a window of successes per step: 4 -> 5 -> 6 -> 7
            limit.succeeded()
        seen.append(limit.limit)
        return seen

    assert asyncio.run(scenario()) == [16, 8, 8, 4, 7]


def test_concurrency_bounds_requests_in_flight() -> None:
    async def scenario() -> int:
        fleet, peak, in_flight = Fleet([Member("http://127.0.0.1:9/v1", None, AdaptiveConcurrency(3))]), 0, 0

        async def request() -> None:
            nonlocal peak, in_flight
            member = await fleet.take()
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            await fleet.give(member)

        await asyncio.gather(*(request() for _ in range(20)))
        return peak

    assert asyncio.run(scenario()) == 3


def test_a_server_that_queues_brings_the_limit_down_and_a_steady_one_does_not() -> None:
    """No 429 from a server that queues: its replies slow down per token as requests wait for its two slots."""
    queueing, steady = AdaptiveConcurrency(16, paced=True), AdaptiveConcurrency(16, paced=True)
    limits = []
    for n in range(300):
        tokens = 40 + (n * 37) % 160  # replies of 40 to 200 tokens, at 10 ms a token when served at once
        sent = time.monotonic()
        # Of the requests in flight, the first two are served at once, the others wait about a reply's time
        # (a second) for each two ahead of them.
        waited = 1.0 * ((n % int(queueing.limit)) // 2)
        queueing.succeeded(sent, 0.01 * tokens + waited, tokens)
        steady.succeeded(sent, 0.01 * tokens + 0.05, tokens)  # a steady overhead, and no queue
        limits.append(queueing.limit)
    assert max(limits[100:]) <= 6  # was 16: every request beyond the slots waited in the server's queue
    assert steady.limit == 16
    lone = AdaptiveConcurrency(16)  # a lone endpoint does not watch the pace
    for n in range(50):
        lone.succeeded(time.monotonic(), 0.01 + 1.0 * (n % 16), 10)
    assert lone.limit == 16


def test_rate_limit_spreads_requests_past_the_burst() -> None:
    async def scenario() -> float:
        bucket = RateLimit(per_minute=1200)  # 20 a second, a burst of 200
        t0 = time.monotonic()
        for _ in range(220):
            await bucket.take(1)
        return time.monotonic() - t0

    assert asyncio.run(scenario()) >= 0.9  # the 20 past the burst take a second


def test_retry_after_in_seconds_milliseconds_and_dates() -> None:
    def error(headers: dict[str, str]) -> openai.RateLimitError:
        request = httpx.Request("POST", "http://x/v1/chat/completions")
        return openai.RateLimitError(
            "slow down", response=httpx.Response(429, headers=headers, request=request), body=None
        )

    assert retry_after(error({"retry-after": "3"})) == 3.0
    assert retry_after(error({"retry-after-ms": "250", "retry-after": "3"})) == 0.25
    assert 0 <= retry_after(error({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(error({})) is None
    assert all(0 <= backoff(a) <= min(30, 0.5 * 2**a) for a in range(1, 10))
