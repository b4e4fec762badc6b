"""The LLM client: the official `openai` async client against any OpenAI-compatible base_url.

The openai client's own retries are off: studio retries here, with exponential backoff and jitter on 429,
5xx, timeouts, dropped connections and malformed bodies, honouring Retry-After (up to a cap), under a bounded
number of attempts, and every attempt has a hard timeout. Structured output is negotiated once per endpoint,
with the schema the items are asked for: `json_schema` (strict, OpenAI's subset of the schema) where the server
takes it, else `json_object` with the schema (llama.cpp's server enforces it by grammar), else plain text from
which the JSON is extracted. An endpoint that refuses a later item's schema moves the run one mode down.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from studio.generation.cache import ReplyCache
from studio.generation.fleet import Fleet, Member
from studio.generation.limits import AdaptiveConcurrency, RateLimit
from studio.project import Endpoint
from studio.schema import map_subschemas
from studio.target import Target

MODES = ("json_schema", "json_object", "text")
# What a body that is not a chat completion raises on the way to a Reply.
MALFORMED = (openai.APIResponseValidationError, ValueError, KeyError, IndexError, TypeError, AttributeError)
# Requests in flight when the project file does not say: llama.cpp's server answers one at a time.
DEFAULT_CONCURRENCY = {"local": 1, "loopback": 4, "remote": 16}


@dataclass
class Reply:
    text: str
    finish_reason: str | None
    model: str
    tokens_in: int
    tokens_out: int
    seconds: float
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat fields: no need for asdict's deep copy

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reply:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# HTTP statuses that mean the whole run is misconfigured, not that one item failed.
FATAL_STATUS = {
    401: "the endpoint refused the API key",
    403: "the endpoint refused access",
    404: "the endpoint does not know this model or path",
}


class AwaitingBatch(Exception):
    """In batch mode: the item needs a reply that the next batch will bring."""


class RequestFailed(Exception):
    """No usable reply after the allowed attempts (`retryable`: a later run may try again), or a refusal."""

    def __init__(self, reason: str, attempts: int, retryable: bool, status: int | None = None):
        super().__init__(reason)
        self.reason, self.attempts, self.retryable, self.status = reason, attempts, retryable, status


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """About four characters a token: enough for rate limits and dry-run estimates."""
    return sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)


def retry_after(error: openai.APIStatusError) -> float | None:
    """The wait a reply asks for, in seconds: `retry-after-ms`, else `Retry-After` as seconds or an HTTP-date.
    None when there is none or it does not parse: a server's odd header must not end the run."""
    headers = error.response.headers
    if (ms := _seconds(headers.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP-dates are GMT whatever they say
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def _seconds(value: str | None) -> float | None:
    """A non-negative finite number, else None ("nan", "inf" and "-1" are no waits to honour)."""
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Full jitter: a random wait up to base * 2^attempt, so retries of many requests spread out."""
    return random.uniform(0, min(cap, base * 2**attempt))


def response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` of a request in `mode`. A grammar ends a string at its `maxLength`, mid-word
    ("... was an isl"), where a reply that is too long should get a repair request: no mode decodes to it."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "item", "schema": strict_schema(schema), "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object", "schema": map_subschemas(schema, _without_max_length)}
    return None


def _without_max_length(sub: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sub.items() if k != "maxLength"}


# What OpenAI's strict mode refuses with a 400 ("... 'minLength' is not permitted"): length, size and
# uniqueness limits and the keywords that need lookahead. They are left out of what is decoded to; the reply is
# still checked against the whole schema, and a value past a limit gets a repair request.
STRICT_UNSUPPORTED = frozenset(
    {
        "$schema",
        "$id",
        "minLength",
        "maxLength",
        "uniqueItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "patternProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "contains",
        "minContains",
        "maxContains",
        "dependentRequired",
        "dependentSchemas",
        "not",
        "if",
        "then",
        "else",
    }
)


def strict_schema(schema: Any) -> Any:
    """The subset of `schema` that OpenAI's strict mode takes (and grammar servers decode without cutting a
    string at its maxLength, mid-word): every object closed and every property required, an optional one
    required-but-nullable (`drop_nulls` removes the nulls from the reply again); `oneOf` as `anyOf`, `const` as
    a one-value `enum`; no keyword of STRICT_UNSUPPORTED."""

    def node(sub: dict[str, Any]) -> dict[str, Any]:
        sub = {k: v for k, v in sub.items() if k not in STRICT_UNSUPPORTED}
        if "oneOf" in sub:
            sub["anyOf"] = sub.pop("oneOf")
        if "const" in sub:
            sub["enum"] = [sub.pop("const")]
        if "properties" in sub:
            required = set(sub.get("required", []))
            sub["properties"] = {
                name: prop if name in required else {"anyOf": [prop, {"type": "null"}]}
                for name, prop in sub["properties"].items()
            }
            sub["required"] = list(sub["properties"])
            sub["additionalProperties"] = False
        return sub

    return map_subschemas(schema, node)


# llama-server's 500 for a reply its own output parser cannot read (the model left the format): the same seeded
# request gets the same reply, so it is the item's failure, not a server fault to retry.
_BROKEN_OUTPUT = re.compile(r"The model produced output that does not match the expected")

# A refusal of the response format or its schema, not of the item: OpenAI's "Invalid schema for
# response_format 'item': ..." (code invalid_json_schema), "response_format json_schema is not supported",
# a grammar server's "failed to parse JSON schema".
_SCHEMA_REFUSAL = re.compile(r"response_format|json_schema|schema", re.I)


def stepped_down(
    asked: str, now: str, error: RequestFailed, cache: ReplyCache, target: Target, say: Callable[[str], None]
) -> str | None:
    """The mode to ask in after `error` came back to a request asked in mode `asked` while the run is at mode
    `now`: one step down when the endpoint refused the response format (said once, and remembered for the next
    run), or `now` when another request has stepped down already; None when the error is not about the format
    (text mode sends none): then it is the item's."""
    if error.status not in (400, 422) or asked == "text" or not _SCHEMA_REFUSAL.search(error.reason):
        return None
    if now != asked:
        return now
    lower = MODES[MODES.index(asked) + 1]
    cache.set_meta(mode_key(target), lower)
    say(f"the endpoint refused {asked} mode ({error.reason}); asking in {lower} mode from now on")
    return lower


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The JSON value in a reply: the whole text, a fenced block, or the outermost {...}."""
    text = text.strip()
    # strict=False: raw newlines inside strings, which llama.cpp's JSON grammar lets through.
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    for candidate in [*_FENCE.findall(text), text[text.find("{") : text.rfind("}") + 1]]:
        try:
            return json.loads(candidate, strict=False)
        except json.JSONDecodeError:
            continue
    raise ValueError("the reply holds no JSON object")


class Client:
    def __init__(
        self,
        base_url: str | tuple[str, ...],
        model: str,
        api_key: str | None,
        *,
        timeout: float = 120.0,
        max_attempts: int = 5,
        concurrency: int = 1,
        rpm: float | None = None,
        tpm: float | None = None,
        retry_after_cap_s: float = 60.0,
        say: Callable[[str], None] | None = None,
    ):
        """`base_url`: one endpoint, or a fleet's; `concurrency`: the ceiling of requests in flight, per endpoint."""
        self.model = model
        self.timeout, self.max_attempts = timeout, max_attempts
        self.retry_after_cap_s, self.say = retry_after_cap_s, say
        self._said_cap = False  # the cap is said once per client, not at every 429
        urls = (base_url,) if isinstance(base_url, str) else base_url
        # Local servers need no key, but the client insists on one.
        self.fleet = Fleet(
            [
                Member(
                    url,
                    openai.AsyncOpenAI(base_url=url, api_key=api_key or "no-key", timeout=timeout, max_retries=0),
                    AdaptiveConcurrency(concurrency, paced=len(urls) > 1),
                )
                for url in urls
            ],
            say,
        )
        self.rpm = RateLimit(rpm) if rpm else None
        self.tpm = RateLimit(tpm) if tpm else None
        self.counts = {
            "requests": 0,
            "retries": 0,
            "throttled": 0,
            "timeouts": 0,
            "server_errors": 0,
            "connection_errors": 0,
            "malformed": 0,
        }

    async def chat(
        self, messages: list[dict[str, str]], params: dict[str, Any], max_attempts: int | None = None
    ) -> Reply:
        """One chat completion, retried on transient faults. Raises RequestFailed when it gives up."""
        attempts, last = 0, "no attempt made"
        estimate = estimate_tokens(messages) + int(params.get("max_tokens") or 0)
        limit = max_attempts or self.max_attempts
        while attempts < limit:
            attempts += 1
            if self.rpm:
                await self.rpm.take(1)
            if self.tpm:
                await self.tpm.take(estimate)
            delay, failed = None, None  # failed: why the endpoint itself failed
            member = await self.fleet.take()
            t0 = time.monotonic()
            try:
                self.counts["requests"] += 1
                # The client's timeout bounds each read; this bounds the whole exchange (no trickling).
                async with asyncio.timeout(self.timeout):
                    response = await member.openai.chat.completions.with_raw_response.create(
                        model=self.model, messages=messages, **request_params(params)
                    )
                    body = json.loads(await response.http_response.aread())
                seconds = time.monotonic() - t0
                reply = _reply(body, seconds, attempts)
                if self.tpm:
                    self.tpm.refund(estimate - reply.tokens_in - reply.tokens_out)
                self.fleet.succeeded(member, t0, seconds, reply.tokens_out)
                return reply
            except openai.RateLimitError as e:
                self.counts["throttled"] += 1
                self.fleet.throttled(member, sent_at=t0)
                delay, last = self._capped(retry_after(e)), f"HTTP 429 rate limited: {_message(e)}"
            except openai.APIStatusError as e:
                if (e.status_code < 500 and e.status_code not in (408, 409)) or _BROKEN_OUTPUT.search(_message(e)):
                    raise RequestFailed(
                        f"HTTP {e.status_code}: {_message(e)}",
                        attempts,
                        retryable=False,
                        status=e.status_code,
                    ) from None
                self.counts["server_errors"] += 1
                delay, last = self._capped(retry_after(e)), f"HTTP {e.status_code}: {_message(e)}"
                failed = f"HTTP {e.status_code}"
            except (openai.APITimeoutError, TimeoutError):
                self.counts["timeouts"] += 1
                last = failed = f"timed out after {self.timeout:g} s"
            except openai.APIConnectionError as e:
                self.counts["connection_errors"] += 1
                last = f"connection error: {e.__cause__ or e}"
                failed = "connection error"
            except MALFORMED as e:
                self.counts["malformed"] += 1
                last = f"malformed response body: {e}"
            finally:
                await self.fleet.give(member)
            elsewhere = failed is not None and self.fleet.failed(member, failed, sent_at=t0)
            if attempts < limit:
                self.counts["retries"] += 1
                if not elsewhere:  # another endpoint takes the retry at once; this one waits out its cool-down
                    await asyncio.sleep(delay if delay is not None else backoff(attempts))
        raise RequestFailed(f"gave up after {attempts} attempts; last error: {last}", attempts, retryable=True)

    def _capped(self, delay: float | None) -> float | None:
        """A server's wait, at most the cap: an hour's Retry-After would stall the run without a word."""
        if delay is None or delay <= self.retry_after_cap_s:
            return delay
        if self.say and not self._said_cap:
            self._said_cap = True
            self.say(
                f"the endpoint asked to wait {delay:.0f} s (Retry-After); waiting {self.retry_after_cap_s:g} s, "
                "the cap (endpoint.retry_after_cap_s)"
            )
        return self.retry_after_cap_s

    async def negotiate(self, schema: dict[str, Any]) -> str:
        """The first structured-output mode the endpoint takes with `schema`, the schema the run's first item
        is decoded to (a toy schema would pass where the real one is refused). A short request per mode; a mode
        is taken when the endpoint answers it with JSON (cut off at the probe's few tokens, as it may be)."""
        messages = [{"role": "user", "content": "Reply with one JSON object that matches the schema."}]
        for mode in MODES[:-1]:
            params = {"max_tokens": 20, "temperature": 0, "response_format": response_format(mode, schema)}
            try:
                reply = await self.chat(messages, params, max_attempts=2)
            except RequestFailed:
                continue
            if reply.text.lstrip().startswith("{"):
                return mode
        return "text"

    async def close(self) -> None:
        await self.fleet.close()


def endpoint_client(target: Target, e: Endpoint, say: Callable[[str], None] | None) -> tuple[Client, int]:
    """A client for `target` under the project's endpoint settings, and its ceiling of requests in flight (each
    endpoint of a fleet has its own)."""
    ceiling = e.concurrency or DEFAULT_CONCURRENCY.get(target.kind, 16)
    client = Client(
        target.base_urls,
        target.model,
        target.api_key,
        timeout=e.timeout_s,
        max_attempts=e.max_attempts,
        concurrency=ceiling,
        rpm=e.rpm,
        tpm=e.tpm,
        retry_after_cap_s=e.retry_after_cap_s,
        say=say,
    )
    return client, ceiling * len(target.base_urls)


def mode_key(target: Target) -> str:
    return f"structured_output:{target.identity}:{target.model}"


async def structured_mode(
    client: Client, cache: ReplyCache, target: Target, configured: str, schema: dict[str, Any]
) -> str:
    """The endpoint's structured-output mode: as configured, or negotiated with `schema` once per run and
    remembered (a mode the run stepped down to is remembered the same way)."""
    if configured != "auto":
        return configured
    mode = cache.get_meta(mode_key(target))
    if mode is None:
        mode = await client.negotiate(schema)
        cache.set_meta(mode_key(target), mode)
    return mode


def request_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the client takes them. The response format (with its schema) goes as extra body:
    it is sent as it is, instead of being walked key by key against the client's types at every request,
    and `json_object` with a `schema` (llama.cpp's extension) is not an OpenAI type anyway."""
    if "response_format" not in params:
        return params
    rest = {k: v for k, v in params.items() if k != "response_format"}
    return {**rest, "extra_body": {"response_format": params["response_format"]}}


def _reply(body: dict[str, Any], seconds: float, attempts: int) -> Reply:
    """The reply in a chat completion body, read as JSON (the client's typed models would cost more CPU
    than everything else studio does per request)."""
    choice = body["choices"][0]
    content = (choice.get("message") or {}).get("content")
    if content is None:
        raise ValueError("the reply has no message content")
    usage = body.get("usage") or {}
    return Reply(
        text=content,
        finish_reason=choice.get("finish_reason"),
        model=body.get("model") or "",
        tokens_in=usage.get("prompt_tokens") or 0,
        tokens_out=usage.get("completion_tokens") or 0,
        seconds=round(seconds, 4),
        attempts=attempts,
    )


def _message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    text = body if isinstance(body, str) else json.dumps(body) if body else e.message
    return " ".join(str(text).split())[:200]
