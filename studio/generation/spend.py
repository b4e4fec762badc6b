"""Tokens and money a run spends, and its budget: generation and the judge share one cache, so one budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from studio.generation.cache import ReplyCache
from studio.generation.client import AwaitingBatch, Reply, estimate_tokens
from studio.project import Budget

# Sends one request (its cache key, messages, parameters) and returns the reply: live, or through a batch.
Send = Callable[[str, list[dict[str, str]], dict[str, Any]], Awaitable[Reply]]


class BudgetReached(Exception):
    def __init__(self, message: str, setting: str):
        super().__init__(message)
        self.setting = setting  # the project key that raises it


@dataclass
class Spend:
    """What the run paid (every model's answered requests in its cache), and the requests in flight of this
    process's `model` (reserved at their largest, so the run stops before it can pass its budget)."""

    prices: dict[str, Any]
    model: str
    tokens_in: int = 0  # this model's
    tokens_out: int = 0
    reserved_in: int = 0
    reserved_out: int = 0
    other_tokens: int = 0  # the other models' (generation's, for the judge)
    other_usd: float = 0.0

    def paid(self, usage: dict[str, tuple[int, int]]) -> None:
        """Take what the cache says was paid, per model (reservations of finished requests drop out)."""
        self.tokens_in, self.tokens_out = usage.get(self.model, (0, 0))
        others = [(m, i, o) for m, (i, o) in usage.items() if m != self.model]
        self.other_tokens = sum(i + o for _, i, o in others)
        self.other_usd = sum(self._usd(m, i, o) or 0.0 for m, i, o in others)

    def _usd(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        price = self.prices.get(model)
        return None if price is None else (tokens_in * price.input + tokens_out * price.output) / 1e6

    def cost(self, extra_in: int = 0, extra_out: int = 0) -> float | None:
        tin = self.tokens_in + self.reserved_in + extra_in
        tout = self.tokens_out + self.reserved_out + extra_out
        mine = self._usd(self.model, tin, tout)
        return None if mine is None else mine + self.other_usd

    def tokens(self, extra: int = 0) -> int:
        return self.tokens_in + self.tokens_out + self.reserved_in + self.reserved_out + self.other_tokens + extra

    def reserve(self, tokens_in: int, tokens_out: int, sign: int = 1) -> None:
        self.reserved_in, self.reserved_out = self.reserved_in + sign * tokens_in, self.reserved_out + sign * tokens_out

    def add(self, tokens_in: int, tokens_out: int) -> None:
        self.tokens_in, self.tokens_out = self.tokens_in + tokens_in, self.tokens_out + tokens_out

    def check(self, budget: Budget, est_in: int, est_out: int) -> None:
        """Stop before a request that could take the run past its budget."""
        if budget.tokens is not None and self.tokens(est_in + est_out) > budget.tokens:
            raise BudgetReached(f"token budget of {budget.tokens:,} reached", "budget.tokens")
        if budget.usd is not None and (self.cost(est_in, est_out) or 0) > budget.usd:
            raise BudgetReached(f"budget of ${budget.usd:g} reached", "budget.usd")


async def paid_reply(
    cache: ReplyCache,
    spend: Spend,
    budget: Budget,
    key: str,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    send: Send,
) -> tuple[Reply, bool]:
    """The reply to a request and whether it came from the run's cache. A new one is asked for only if the
    budget allows the request at its largest (else BudgetReached), and is cached the moment it arrives, so
    a killed run never pays for it twice."""
    cached = cache.get(key)
    if cached is not None:
        return Reply.from_dict(cached), True
    est_in, est_out = estimate_tokens(messages), int(params.get("max_tokens") or 0)
    spend.check(budget, est_in, est_out)
    spend.reserve(est_in, est_out)
    try:
        reply = await send(key, messages, params)
    except AwaitingBatch:
        raise  # the reservation holds until the batch's round ends
    except BaseException:
        spend.reserve(est_in, est_out, -1)
        raise
    spend.reserve(est_in, est_out, -1)
    cache.put(key, {**reply.to_dict(), "model": spend.model})
    spend.add(reply.tokens_in, reply.tokens_out)
    return reply, False
