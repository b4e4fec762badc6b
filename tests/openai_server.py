"""A real OpenAI-compatible HTTP server on 127.0.0.1 that misbehaves on purpose.

It answers chat completions with an item made from the JSON Schema in the request (deterministic per
request), after a fixed latency, and, at a configurable rate, injects faults: 429 with Retry-After, 500,
replies slower than the client's timeout, dropped connections, truncated and malformed bodies,
non-JSON or schema-violating content, and replies cut at max_tokens. It also implements the files and
batches endpoints that the OpenAI Batch API client uses.

Run it as a process (`python -m tests.openai_server --port 0 ...`): it prints its port on the first line.
GET /_stats returns what it saw: requests, faults injected, how often each request body was answered, when
each attempt of each body arrived (`arrivals`: to measure the wait between a 429 and its retry), the requests
in flight over time (`in_flight`) and those refused for being over --max-in-flight (`limited`), and every
repair request (`repairs`: a request with an assistant turn).

Besides the faults above, --faults may name `unparsed`: llama-server's HTTP 500 for a reply its own output
parser cannot read, which a retry of the same seeded request meets again.

Chat options: --fault-first N gives the first N attempts of every first request (no assistant turn) a fault
from --faults, so each item meets one for sure; --retry-after-form picks how a 429 says how long to wait;
--max-in-flight N answers 429 to a request that arrives while N are being served, as a rate limit does;
--text-wrap wraps a text-mode reply (no response_format) in prose or a ```json fence, as chatty models do.
Scripted replies (an LLM judge, say): --reply TEXT answers every chat completion with TEXT; --reply-from REGEX
answers with REGEX's first group, searched in the request's last user message (when it matches; else --reply,
else the usual item); --record adds every chat request (model, messages, ...) to /_stats as `chats`;
--work-ms N spends N ms of CPU on each chat request, as a real server's tokenizer and templates do.
Strict mode as OpenAI has it: a json_schema request with `strict: true` whose schema leaves OpenAI's strict
subset (a length or uniqueness keyword, oneOf, an open object, an optional property) gets OpenAI's 400
("Invalid schema for response_format 'item': In context=('properties', 'text'), 'minLength' is not
permitted."); --strict-refuses K,... refuses more keywords, as a stricter provider does. A reply is made from
the schema the prompt shows, as a model reads its limits there.
Every reply goes out in one write on a TCP_NODELAY socket (else delayed ACKs add ~45 ms a request).

Batch options (see BatchAPI): --batch-outcomes completed|partial|expired|cancelled|failed, one per created
batch in order (the last repeats); --batch-max-requests N and --batch-max-bytes N refuse a bigger batch file
with OpenAI's 400; --batch-create-stall S waits S seconds before POST /v1/batches creates anything (and
creates nothing if the client went away), --batch-create-delay S answers it S seconds after the batch was
created. /_stats adds `batches` (created), `files` (uploaded) and `batch_sizes` (requests in each batch).

Fine-tuning jobs (tests/openai_fine_tuning.py): --ft-outcomes succeeded|failed|cancelled, one per created job in
order (the last repeats); --ft-steps N training steps, one per GET of a running job; --ft-429-rate R answers that
share of fine-tuning requests 429; --ft-create-delay S answers a create S seconds after making the job;
--ft-models lists the models that may be tuned. A succeeded job's model then answers chat completions from what
it was tuned on. /_stats adds `fine_tuning_jobs` and `fine_tuning_429`.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import json
import math
import random
import re
import socket
import time
import urllib.parse
from collections import Counter, defaultdict
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from tests.openai_fine_tuning import OUTCOMES as FT_OUTCOMES
from tests.openai_fine_tuning import FineTuningAPI, invalid

TRANSPORT_FAULTS = ("429", "500", "slow", "drop", "truncated_body")
# llama-server's 500 for a reply its own output parser could not read (the model left the format).
UNPARSED = "The model produced output that does not match the expected peg-native format"
CONTENT_FAULTS = ("not_json", "schema_violation", "length")
RETRY_AFTER_FORMS = ("seconds", "ms", "date", "malformed", "bad-date", "none")
TEXT_WRAPS = {"prose": "Sure! Here is the item: {} Hope it helps.", "fence": "Here it is:\n```json\n{}\n```"}


def rate_limited(limit: int) -> dict[str, Any]:
    """OpenAI's body for a request over a rate limit."""
    message = f"Rate limit reached for requests: Limit {limit}, Used {limit}. Please try again shortly."
    return {"error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"}}


WORDS = [
    "grey",
    "silver",
    "banded",
    "oily",
    "light",
    "strong",
    "dense",
    "coastal",
    "island",
    "colony",
    "carver",
    "boat",
    "plank",
    "grain",
    "ring",
    "bark",
    "resin",
    "polar",
    "winter",
    "harbour",
    "sealer",
    "ballad",
    "cradle",
    "hull",
    "oar",
    "mast",
    "chisel",
    "lathe",
    "varnish",
    "smoke",
    "ember",
    "frost",
    "tide",
    "driftwood",
    "feather",
    "stripe",
    "timber",
    "forest",
    "shore",
    "keel",
    "deck",
    "beam",
    "rafter",
    "spoon",
    "bowl",
    "flute",
    "drum",
]


def instance(schema: dict[str, Any], rng: random.Random) -> Any:
    """A value valid against a (narrowed, branch-free) JSON Schema, varied by `rng`."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return instance((schema.get("anyOf") or schema["oneOf"])[0], rng)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        values = {name: instance(sub, rng) for name, sub in schema.get("properties", {}).items()}
        # A question reads as one, as a model's would; the quality gate rejects a question that is no question.
        if isinstance(values.get("question"), str):
            values["question"] = values["question"][:-1].rstrip(" x") + "?"
        return values
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        want = max(1, schema.get("minItems", 1))
        out: list[Any] = []
        for _ in range(want * 10):
            value = instance(items, rng)
            if value not in out:
                out.append(value)
            if len(out) >= want:
                break
        return out
    if kind == "integer":
        lo, hi = schema.get("minimum", 0), schema.get("maximum", 1000)
        return rng.randint(lo, hi)
    if kind == "number":
        return rng.uniform(schema.get("minimum", 0), schema.get("maximum", 1000))
    if kind == "boolean":
        return True
    lo, hi = schema.get("minLength", 1), schema.get("maxLength", 200)
    text = " ".join(rng.choice(WORDS) for _ in range(hi))
    target = rng.randint(lo, max(lo, min(hi, lo + 120)))
    return (text[:target].rstrip() + ".").ljust(lo, "x")[:hi]


def patterns_of(request: dict[str, Any], prompt_schema: dict[str, Any]) -> dict[str, str]:
    """The string patterns a reply is held to, by property name: those of the schema in response_format (a
    grammar or strict mode decodes to them, though the prompt leaves them out), or those the prompt shows (text
    mode, where the model has only the prompt to go by)."""
    schema = format_schema(request) or prompt_schema
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if isinstance(sub, dict) and "pattern" in sub:
                    found[name] = sub["pattern"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def held_to(reply: Any, patterns: dict[str, str]) -> Any:
    """The reply as decoding to those patterns leaves it: a value a pattern refuses for its sentence's full
    stop loses it (a place name of letters only), as a grammar would have ended it there."""
    if not isinstance(reply, dict):
        return reply
    for name, value in reply.items():
        pattern = patterns.get(name)
        if isinstance(value, str) and pattern and not re.search(pattern, value) and re.search(pattern, value[:-1]):
            reply[name] = value[:-1]
        else:
            held_to(value, patterns)
    return reply


def schema_of(body: dict[str, Any]) -> dict[str, Any]:
    """The schema a reply is made from: the one the prompt shows ("... must match this JSON Schema:\n{...}"),
    as a model reads its limits there (strict mode and grammars are sent no string lengths); else the one in
    response_format; else a toy one."""
    for message in body.get("messages") or []:
        content = message.get("content") or ""
        at = content.find("JSON Schema:")
        if message.get("role") == "system" and at >= 0 and "{" in content[at:]:
            try:
                return json.JSONDecoder().raw_decode(content, content.index("{", at))[0]
            except ValueError:
                pass
    return format_schema(body) or {"type": "object", "properties": {"ok": {"type": "boolean"}}}


def format_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema in the request's response_format (strict json_schema, or llama.cpp's json_object), if any."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    if fmt.get("type") == "json_object" and "schema" in fmt:
        return fmt["schema"]
    return None


# What OpenAI's strict mode refuses (its structured-outputs guide, "Some type-specific keywords are not yet
# supported"), written out here on purpose: the server checks studio, it does not share studio's list.
OPENAI_STRICT_REFUSES = (
    "minLength",
    "maxLength",
    "uniqueItems",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
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
    "$schema",
)


def strict_refusal(schema: Any, refused: set[str], path: tuple[str, ...] = ()) -> str | None:
    """What OpenAI's strict mode says of a schema it refuses (None when it takes it), in its words."""
    if not isinstance(schema, dict):
        return None
    for key in schema:
        if key in refused:
            return f"In context={path}, '{key}' is not permitted."
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"In context={path}, 'additionalProperties' is required to be supplied and to be false."
        missing = [k for k in schema.get("properties", {}) if k not in (schema.get("required") or [])]
        if missing:
            return (
                f"In context={path}, 'required' is required to be supplied and to be an array including every key "
                f"in properties. Missing '{missing[0]}'."
            )
    subs = [(("properties", k), v) for k, v in (schema.get("properties") or {}).items()]
    subs += [(("$defs", k), v) for k, v in (schema.get("$defs") or {}).items()]
    subs += [(("anyOf", str(i)), v) for i, v in enumerate(schema.get("anyOf") or [])]
    if isinstance(schema.get("items"), dict):
        subs.append((("items",), schema["items"]))
    for step, sub in subs:
        if (why := strict_refusal(sub, refused, path + step)) is not None:
            return why
    return None


class Server:
    def __init__(
        self,
        latency: float,
        fault_rate: float,
        faults: list[str],
        seed: int,
        retry_after: float,
        slow_s: float,
        modes: list[str],
        *,
        retry_after_form: str = "seconds",
        max_in_flight: int = 0,
        text_wrap: str | None = None,
        fault_first: int = 0,
        reply: str | None = None,
        reply_from: str | None = None,
        score_from: str | None = None,
        record: bool = False,
        work_ms: float = 0.0,
        strict_refuses: tuple[str, ...] = OPENAI_STRICT_REFUSES,
        slots: int = 0,
    ):
        self.latency, self.fault_rate, self.faults = latency, fault_rate, faults
        self.rng = random.Random(seed)
        self.retry_after, self.slow_s, self.modes = retry_after, slow_s, modes
        self.retry_after_form, self.max_in_flight = retry_after_form, max_in_flight
        self.text_wrap, self.fault_first = text_wrap, fault_first
        self.reply, self.reply_from = reply, re.compile(reply_from, re.DOTALL) if reply_from else None
        self.score_from = re.compile(score_from, re.DOTALL) if score_from else None
        self.record, self.work_ms = record, work_ms
        self.strict_refuses = set(strict_refuses)
        # As llama-server or vLLM at capacity: `slots` requests are served at a time, the others wait in a queue
        # (no 429); 0: all at once.
        self.slots = asyncio.Semaphore(slots) if slots else None
        self.schema_refusals = 0  # 400s for a strict schema the server does not take
        self.chats: list[dict[str, Any]] = []  # every chat request, with --record
        self.arrivals: defaultdict[str, list[float]] = defaultdict(list)  # body hash -> arrival of each attempt
        self.in_flight = self.peak_in_flight = 0
        self.in_flight_series: list[list[float]] = []  # [time, requests in flight] at every change
        self.limited: list[float] = []  # when each request over --max-in-flight came
        self.repairs: list[dict[str, Any]] = []
        self.requests = 0
        self.authorized = 0  # requests that carried an API key
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # body hash -> 200s with a reply
        self.batch_api = BatchAPI(self)  # main() sets it up from the --batch-* flags
        self.fine_tuning = FineTuningAPI(self.batch_api.files, ["fake"])  # and this from the --ft-* flags

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self.route(method, path, headers, body, writer, reader):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        extra: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        head = [
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'ERR'}",
            "content-type: application/json",
            f"content-length: {len(data)}",
            *(f"{k}: {v}" for k, v in (extra or {}).items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)

    async def route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader | None = None,
    ) -> bool:
        path, _, query = path.partition("?")
        if path == "/_stats":
            self.send(
                writer,
                200,
                {
                    "requests": self.requests,
                    "injected": dict(self.injected),
                    "answered": dict(self.answered),
                    **self.batch_api.stats(),  # batches created, files uploaded, requests in each batch
                    **self.fine_tuning.stats(),
                    "authorized": self.authorized,
                    "arrivals": self.arrivals,
                    "in_flight": {
                        "cap": self.max_in_flight,
                        "peak": self.peak_in_flight,
                        "series": self.in_flight_series,
                    },
                    "limited": self.limited,
                    "repairs": self.repairs,
                    "schema_refusals": self.schema_refusals,
                    **({"chats": self.chats} if self.record else {}),
                },
            )
        elif path == "/v1/models":
            names = ["fake", *self.fine_tuning.tuned]
            self.send(writer, 200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
        elif path == "/v1/chat/completions":
            return await self.chat(json.loads(body), body, writer, headers)
        elif path.startswith(("/v1/files", "/v1/batches")):
            status, payload, raw = await self.batch_api.route(method, path, query, headers, body, reader)
            self.send(writer, status, payload, raw=raw)
        elif path.startswith("/v1/fine_tuning/"):
            status, payload = await self.fine_tuning.route(method, path, query, body)
            self.send(writer, status, payload, self.retry_headers() if status == 429 else None)
        else:
            self.send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        await writer.drain()
        return True

    def completion(self, request: dict[str, Any], content_fault: str | None = None) -> dict[str, Any]:
        digest = hashlib.sha256(json.dumps(request["messages"], sort_keys=True).encode()).hexdigest()
        rng = random.Random(digest + str(request.get("seed")))
        learned = self.fine_tuning.reply(request)
        scripted = learned if learned is not None else self.scripted(request)
        if scripted is None:
            shown = schema_of(request)
            text = json.dumps(held_to(instance(shown, rng), patterns_of(request, shown)))
        else:
            text = scripted
        finish = "stop"
        if content_fault == "not_json":
            text = "Here is the item you asked for: " + text[: len(text) // 2]
        elif content_fault == "schema_violation":
            text = json.dumps({"unexpected": True})
        elif content_fault == "length":
            text, finish = text[: len(text) // 2], "length"
        if self.text_wrap and "response_format" not in request:
            text = TEXT_WRAPS[self.text_wrap].format(text)
        tokens_in = sum(len(m["content"]) for m in request["messages"]) // 4
        return {
            "id": f"chatcmpl-{digest[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": len(text) // 4,
                "total_tokens": tokens_in + len(text) // 4,
            },
        }

    def scripted(self, request: dict[str, Any]) -> str | None:
        """The reply --score-from, --reply-from or --reply prescribes for this request, or None (the usual item)."""
        if self.score_from is not None:
            # A judge that scores deterministically: every criterion of the rubric it is asked for (an object
            # of {reason, score} objects) gets the digit found in the item it is shown.
            found = self.score_from.search(request["messages"][-1].get("content") or "")
            criteria = schema_of(request).get("properties") or {}
            if found and all("score" in (c.get("properties") or {}) for c in criteria.values()):
                return json.dumps(
                    {name: {"reason": f"graded {found.group(1)}", "score": int(found.group(1))} for name in criteria}
                )
        if self.reply_from is not None:
            users = [m.get("content") or "" for m in request.get("messages") or [] if m.get("role") == "user"]
            found = self.reply_from.search(users[-1]) if users else None
            if found:
                return found.group(1)
        return self.reply

    async def chat(
        self, request: dict[str, Any], body: bytes, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> bool:
        self.requests += 1
        if self.record:
            self.chats.append(request)
        now = time.time()  # wall-clock time, the clock a Retry-After date is read against
        digest = hashlib.sha256(body).hexdigest()[:16]
        self.arrivals[digest].append(now)
        if headers.get("authorization", "").startswith("Bearer sk-"):
            self.authorized += 1
        repair = any(m.get("role") == "assistant" for m in request.get("messages") or [])
        if repair:
            self.repairs.append({"seed": request.get("seed"), "messages": request["messages"]})
        mode = (request.get("response_format") or {}).get("type", "text")
        if mode not in self.modes:
            self.send(writer, 400, {"error": {"message": f"response_format {mode} is not supported"}})
            await writer.drain()
            return True
        fmt = request["response_format"].get("json_schema") or {} if mode == "json_schema" else {}
        if fmt.get("strict") and (why := strict_refusal(fmt.get("schema"), self.strict_refuses)) is not None:
            self.schema_refusals += 1
            message = f"Invalid schema for response_format '{fmt.get('name')}': {why}"
            self.send(writer, 400, invalid(message, "response_format", "invalid_json_schema"))
            await writer.drain()
            return True
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            # Refused at once, without the work, as a rate limiter in front of a server does.
            self.limited.append(now)
            self.send(writer, 429, rate_limited(self.max_in_flight), self.retry_headers())
            await writer.drain()
            return True
        if self.work_ms:
            # CPU a real server spends on a request (tokenizing, the chat template, its own bookkeeping), in
            # its request path: it competes for the cores with the client, as a local server does.
            deadline = time.thread_time() + self.work_ms / 1000
            while time.thread_time() < deadline:
                hashlib.sha256(body).digest()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.in_flight_series.append([now, self.in_flight])
        try:
            return await self.answer(request, body, writer, digest, repair)
        finally:
            self.in_flight -= 1
            self.in_flight_series.append([time.time(), self.in_flight])

    async def answer(
        self, request: dict[str, Any], body: bytes, writer: asyncio.StreamWriter, digest: str, repair: bool
    ) -> bool:
        if self.fault_first and not repair and len(self.arrivals[digest]) <= self.fault_first:
            fault = self.rng.choice(self.faults)
        else:
            fault = self.rng.choice(self.faults) if self.faults and self.rng.random() < self.fault_rate else None
        if fault:
            self.injected[fault] += 1
        if self.slots:
            async with self.slots:
                await asyncio.sleep(self.slow_s if fault == "slow" else self.latency)
        else:
            await asyncio.sleep(self.slow_s if fault == "slow" else self.latency)
        if fault == "429":
            self.send(writer, 429, {"error": {"message": "rate limited"}}, self.retry_headers())
        elif fault == "500":
            self.send(writer, 500, {"error": {"message": "internal error"}})
        elif fault == "unparsed":
            self.send(writer, 500, {"error": {"code": 500, "message": UNPARSED, "type": "server_error"}})
        elif fault == "drop":
            return False
        elif fault == "truncated_body":
            whole = json.dumps(self.completion(request)).encode()
            self.send(writer, 200, None, raw=whole[: len(whole) // 2])
        else:
            if fault != "slow":  # a slow reply comes after the client gave up: nobody receives it
                self.answered[digest] += 1
            self.send(writer, 200, self.completion(request, fault if fault in CONTENT_FAULTS else None))
        await writer.drain()
        return True

    def retry_headers(self) -> dict[str, str]:
        """How a 429 says to wait --retry-after seconds, in the form --retry-after-form names."""
        wait, form = self.retry_after, self.retry_after_form
        if form == "ms":
            return {"retry-after-ms": f"{wait * 1000:g}"}
        if form == "date":
            # Whole seconds, rounded up: the date never asks for less than the wait.
            return {"retry-after": email.utils.formatdate(math.ceil(time.time() + wait), usegmt=True)}
        if form == "malformed":
            return {"retry-after": "soon"}
        if form == "bad-date":
            return {"retry-after": "Mon, 99 Foo 2024 25:61:00 GMT"}
        if form == "none":
            return {}
        return {"retry-after": f"{wait:g}"}


class BatchAPI:
    """OpenAI's files and batches endpoints, as the Batch API uses them: upload a JSONL file of requests,
    create a batch from it (with metadata), list batches newest first, poll one through its statuses
    (validating, in_progress, finalizing, then completed, failed, expired or cancelled, with cancelling
    before cancelled), and download its output and error files.

    Each created batch takes the next of `outcomes` (the last one repeats):
      completed  every request answered;
      partial    completed, but every second request failed with a 500 (in the error file);
      expired    the first half answered, the rest in the error file as batch_expired;
      cancelled  likewise, as batch_cancelled (as if someone cancelled it in the dashboard);
      failed     failed in validation (an enqueued-token limit): no output, no error file.
    A batch moves one status further at each GET, so a client has to poll it.
    """

    ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses")
    OUTCOMES = ("completed", "partial", "expired", "cancelled", "failed")
    STEPS = {
        "completed": ["validating", "in_progress", "finalizing", "completed"],
        "partial": ["validating", "in_progress", "finalizing", "completed"],
        "expired": ["validating", "in_progress", "expired"],
        "cancelled": ["validating", "in_progress", "cancelling", "cancelled"],
        "failed": ["validating", "failed"],
    }

    def __init__(
        self,
        server: Server,
        outcomes: list[str] | None = None,
        max_requests: int = 50_000,
        max_bytes: int = 200_000_000,
        create_stall: float = 0.0,
        create_delay: float = 0.0,
    ):
        self.server = server
        self.outcomes = outcomes or ["completed"]
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.create_stall, self.create_delay = create_stall, create_delay
        self.files: dict[str, dict[str, Any]] = {}  # id -> {"object": the file object, "content": bytes}
        self.uploads = 0
        self.batches: dict[str, dict[str, Any]] = {}  # in creation order
        self.plans: dict[str, dict[str, Any]] = {}  # batch id -> its outcome, statuses to go, requests
        self.sizes: list[int] = []  # requests in each created batch

    def stats(self) -> dict[str, Any]:
        return {"batches": len(self.batches), "files": self.uploads, "batch_sizes": self.sizes}

    async def route(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, reader: Any
    ) -> tuple[int, Any, bytes | None]:
        """(status, JSON payload, raw bytes) for a files or batches request."""
        parts = path.strip("/").split("/")  # ["v1", "files" | "batches", id?, action?]
        kind, ident, action = parts[1], parts[2] if len(parts) > 2 else None, parts[3] if len(parts) > 3 else None
        if kind == "files" and method == "POST" and ident is None:
            return self.upload(headers, body)
        if kind == "files" and ident in self.files and method == "GET":
            if action == "content":
                return 200, None, self.files[ident]["content"]
            return 200, self.files[ident]["object"], None
        if kind == "batches" and method == "POST" and ident is None:
            return await self.create(json.loads(body or b"{}"), reader)
        if kind == "batches" and method == "GET" and ident is None:
            return self.list(urllib.parse.parse_qs(query))
        if kind == "batches" and ident in self.batches:
            if method == "POST" and action == "cancel":
                return 200, self.cancel(ident), None
            if method == "GET" and action is None:
                return 200, self.advance(ident), None
        what = "file" if kind == "files" else "batch"
        return 404, invalid(f"No such {what}: '{ident}'", f"{what}_id", code=None, kind="invalid_request_error"), None

    def upload(self, headers: dict[str, str], body: bytes) -> tuple[int, Any, None]:
        message = BytesParser(policy=HTTP).parsebytes(
            f"content-type: {headers['content-type']}\r\n\r\n".encode() + body
        )
        fields = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in fields or fields.get("purpose") is None:
            return 400, invalid("'file' and 'purpose' are required", "file"), None
        purpose = fields["purpose"].get_payload(decode=True).decode()
        content = fields["file"].get_payload(decode=True)
        file_id = f"file-{len(self.files):06d}"
        self.uploads += 1
        self.files[file_id] = {"object": self.file_object(file_id, fields["file"].get_filename(), purpose, content)}
        self.files[file_id]["content"] = content
        return 200, self.files[file_id]["object"], None

    @staticmethod
    def file_object(file_id: str, name: str | None, purpose: str, content: bytes) -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": name or "upload",
            "purpose": purpose,
            "status": "processed",
        }

    async def create(self, request: dict[str, Any], reader: Any) -> tuple[int, Any, None]:
        if self.create_stall:
            # The request has not reached the batch service yet; a client killed meanwhile created nothing.
            await asyncio.sleep(self.create_stall)
            if reader is not None and reader.at_eof():
                return 400, invalid("the client went away", None), None
        refused = self.refusal(request)
        if refused:
            return 400, refused, None
        file_id = request["input_file_id"]
        tasks = [json.loads(line) for line in self.files[file_id]["content"].decode().splitlines() if line.strip()]
        batch_id = f"batch_{len(self.batches):06d}"
        now = int(time.time())
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": request["endpoint"],
            "errors": None,
            "input_file_id": file_id,
            "completion_window": request["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 24 * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": request.get("metadata"),
        }
        outcome = self.outcomes[min(len(self.batches) - 1, len(self.outcomes) - 1)]
        ids = [t.get("custom_id") for t in tasks]
        if len(set(ids)) != len(ids) or any(t.get("url") != request["endpoint"] for t in tasks):
            outcome = "invalid"  # OpenAI fails such a file in validation, after the batch was created
        self.plans[batch_id] = {"outcome": outcome, "steps": self.STEPS.get(outcome, ["validating", "failed"])[1:]}
        self.plans[batch_id]["tasks"] = tasks
        self.sizes.append(len(tasks))
        answer = dict(self.batches[batch_id])
        if self.create_delay:
            # Created server-side, answered late: a client killed now never learns the batch's id.
            await asyncio.sleep(self.create_delay)
        return 200, answer, None

    def refusal(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """OpenAI's 400 for a batch it will not create, or None."""
        file_id = request.get("input_file_id")
        if file_id not in self.files:
            return invalid(f"Cannot find file {file_id}, or it does not belong to you.", "input_file_id")
        if request.get("endpoint") not in self.ENDPOINTS:
            return invalid(f"Invalid endpoint: {request.get('endpoint')!r}.", "endpoint")
        if request.get("completion_window") != "24h":
            return invalid("Invalid completion_window: only '24h' is supported.", "completion_window")
        metadata = request.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 16:
            return invalid("metadata: at most 16 key-value pairs.", "metadata")
        for key, value in metadata.items():
            if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
                return invalid("metadata: keys of up to 64 characters, string values of up to 512.", "metadata")
        content = self.files[file_id]["content"]
        lines = sum(1 for line in content.splitlines() if line.strip())
        if lines > self.max_requests:
            return invalid(
                f"The batch input file has {lines:,} requests, more than the maximum of {self.max_requests:,}"
                " requests per batch.",
                "input_file_id",
            )
        if len(content) > self.max_bytes:
            return invalid(
                f"The batch input file is {len(content):,} bytes, larger than the maximum of {self.max_bytes:,} bytes.",
                "input_file_id",
            )
        return None

    def list(self, query: dict[str, list[str]]) -> tuple[int, Any, None]:
        """Newest first, `limit` (1 to 100, default 20) at a time, from after the id `after`."""
        limit = int(query.get("limit", ["20"])[0])
        if not 1 <= limit <= 100:
            return 400, invalid("limit must be between 1 and 100.", "limit"), None
        newest = list(reversed(self.batches))
        after = query.get("after", [None])[0]
        start = newest.index(after) + 1 if after in self.batches else 0
        page = newest[start : start + limit]
        return (
            200,
            {
                "object": "list",
                "data": [dict(self.batches[b]) for b in page],
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": start + limit < len(newest),
            },
            None,
        )

    def cancel(self, batch_id: str) -> dict[str, Any]:
        plan = self.plans[batch_id]
        if self.batches[batch_id]["status"] in ("validating", "in_progress", "finalizing"):
            plan["outcome"], plan["steps"] = "cancelled", ["cancelled"]
            self.enter(batch_id, "cancelling")
        return dict(self.batches[batch_id])

    def advance(self, batch_id: str) -> dict[str, Any]:
        """The batch one status further on (if it has not ended): what a GET sees."""
        steps = self.plans[batch_id]["steps"]
        if steps:
            self.enter(batch_id, steps.pop(0))
        return dict(self.batches[batch_id])

    def enter(self, batch_id: str, status: str) -> None:
        batch, plan = self.batches[batch_id], self.plans[batch_id]
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
        tasks = plan["tasks"]
        if status == "in_progress":
            batch["request_counts"]["total"] = len(tasks)
        if status == "failed":
            code, message = ("invalid_request", "The input file has duplicate custom_ids or a wrong url.")
            if plan["outcome"] == "failed":
                code = "token_limit_exceeded"
                message = (
                    "Enqueued token limit reached for fake in organization org-test. Limit: 90,000 enqueued"
                    " tokens. Please try submitting fewer tasks, or try again once some in_progress batches"
                    " have been completed."
                )
            batch["errors"] = {
                "object": "list",
                "data": [{"code": code, "message": message, "param": None, "line": None}],
            }
        if status in ("completed", "expired", "cancelled"):
            self.finish(batch_id)

    def finish(self, batch_id: str) -> None:
        """Answer the batch's requests as its outcome says, into an output and an error file."""
        batch, plan = self.batches[batch_id], self.plans[batch_id]
        tasks, outcome = plan["tasks"], plan["outcome"]
        done, errors = [], []
        for i, task in enumerate(tasks):
            row: dict[str, Any] = {"id": f"batch_req_{batch_id}_{i}", "custom_id": task["custom_id"]}
            if outcome in ("expired", "cancelled") and i >= len(tasks) // 2:
                code = f"batch_{outcome}"
                message = (
                    "This request could not be executed before the completion window expired."
                    if outcome == "expired"
                    else "This request was not executed because the batch was cancelled."
                )
                errors.append({**row, "response": None, "error": {"code": code, "message": message}})
            elif outcome == "partial" and i % 2:
                error = {"message": "The server had an error processing your request.", "type": "server_error"}
                response = {"status_code": 500, "request_id": f"req_{i}", "body": {"error": error}}
                errors.append({**row, "response": response, "error": None})
            else:
                self.server.requests += 1
                body = json.dumps(task["body"], sort_keys=True).encode()
                self.server.answered[hashlib.sha256(body).hexdigest()[:16]] += 1
                response = {"status_code": 200, "request_id": f"req_{i}", "body": self.server.completion(task["body"])}
                done.append({**row, "response": response, "error": None})
        for rows, field in ((done, "output_file_id"), (errors, "error_file_id")):
            if rows:
                file_id = f"file-{len(self.files):06d}"
                content = "".join(json.dumps(r) + "\n" for r in rows).encode()
                name = f"{batch_id}_{field.split('_')[0]}.jsonl"
                self.files[file_id] = {"object": self.file_object(file_id, name, f"batch_{field[:-8]}", content)}
                self.files[file_id]["content"] = content
                batch[field] = file_id
        batch["request_counts"] = {"total": len(tasks), "completed": len(done), "failed": len(errors)}


async def main(args: argparse.Namespace) -> None:
    server = Server(
        args.latency,
        args.fault_rate,
        args.faults.split(",") if args.faults else [],
        args.seed,
        args.retry_after,
        args.slow_s,
        args.modes.split(","),
        retry_after_form=args.retry_after_form,
        max_in_flight=args.max_in_flight,
        text_wrap=args.text_wrap,
        fault_first=args.fault_first,
        reply=args.reply,
        reply_from=args.reply_from,
        score_from=args.score_from,
        record=args.record,
        work_ms=args.work_ms,
        strict_refuses=tuple(k for k in (*OPENAI_STRICT_REFUSES, *args.strict_refuses.split(",")) if k),
        slots=args.slots,
    )
    server.batch_api = BatchAPI(
        server,
        outcomes=args.batch_outcomes.split(","),
        max_requests=args.batch_max_requests,
        max_bytes=args.batch_max_bytes,
        create_stall=args.batch_create_stall,
        create_delay=args.batch_create_delay,
    )
    server.fine_tuning = FineTuningAPI(
        server.batch_api.files,
        args.ft_models.split(","),
        outcomes=args.ft_outcomes.split(","),
        steps=args.ft_steps,
        rate_429=args.ft_429_rate,
        seed=args.seed,
        create_delay=args.ft_create_delay,
    )
    listener = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=1024)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default=",".join(TRANSPORT_FAULTS + CONTENT_FAULTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--retry-after", type=float, default=0.2, help="Retry-After of a 429, in seconds")
    p.add_argument("--slow-s", type=float, default=5.0, help="how long a slow reply takes")
    p.add_argument("--modes", default="json_object,text", help="response_format types it accepts")
    p.add_argument("--retry-after-form", choices=RETRY_AFTER_FORMS, default="seconds", help="how a 429 says to wait")
    p.add_argument("--max-in-flight", type=int, default=0, help="429 to requests beyond this many (0: no limit)")
    p.add_argument("--slots", type=int, default=0, help="serve this many at a time, queue the rest (0: all at once)")
    p.add_argument("--text-wrap", choices=sorted(TEXT_WRAPS), help="wrap text-mode replies in prose or a fence")
    p.add_argument("--fault-first", type=int, default=0, help="a fault for the first N attempts of every first request")
    p.add_argument("--reply", help="answer every chat completion with this text")
    p.add_argument("--reply-from", help="answer with this regex's first group, searched in the last user message")
    p.add_argument("--score-from", help="judge: score every rubric criterion with this regex's digit in the item")
    p.add_argument("--record", action="store_true", help="list every chat request in /_stats (`chats`)")
    p.add_argument("--work-ms", type=float, default=0.0, help="CPU milliseconds spent on each chat request")
    p.add_argument("--strict-refuses", default="", help="keywords a strict schema may not hold, beyond OpenAI's")
    p.add_argument(
        "--batch-outcomes",
        default="completed",
        help="how each created batch ends, in order, the last repeating: " + ",".join(BatchAPI.OUTCOMES),
    )
    p.add_argument("--batch-max-requests", type=int, default=50_000, help="400 for a bigger batch file")
    p.add_argument("--batch-max-bytes", type=int, default=200_000_000, help="400 for a larger batch file")
    p.add_argument(
        "--batch-create-stall", type=float, default=0.0, help="seconds before POST /v1/batches creates anything"
    )
    p.add_argument(
        "--batch-create-delay", type=float, default=0.0, help="seconds between creating a batch and answering"
    )
    p.add_argument(
        "--ft-outcomes",
        default="succeeded",
        help="how each created fine-tuning job ends, in order, the last repeating: " + ",".join(FT_OUTCOMES),
    )
    p.add_argument("--ft-steps", type=int, default=4, help="training steps of a job (one per GET while running)")
    p.add_argument("--ft-429-rate", type=float, default=0.0, help="share of fine-tuning requests answered 429")
    p.add_argument("--ft-create-delay", type=float, default=0.0, help="seconds between making a job and answering")
    p.add_argument("--ft-models", default="fake,gpt-4o-mini-2024-07-18", help="models that may be fine-tuned")
    args = p.parse_args()
    if unknown := set(args.batch_outcomes.split(",")) - set(BatchAPI.OUTCOMES):
        p.error(f"--batch-outcomes: unknown {sorted(unknown)}")
    if unknown := set(args.ft_outcomes.split(",")) - set(FT_OUTCOMES):
        p.error(f"--ft-outcomes: unknown {sorted(unknown)}")
    asyncio.run(main(args))
