"""A real OpenAI-compatible HTTP server on 127.0.0.1 that misbehaves on purpose.

It answers chat completions with an item made from the JSON Schema in the request (deterministic per
request), after a fixed latency, and, at a configurable rate, injects faults: 429 with Retry-After, 500,
replies slower than the client's timeout, dropped connections, truncated and malformed bodies,
non-JSON or schema-violating content, and replies cut at max_tokens. It also implements the files and
batches endpoints that the OpenAI Batch API client uses.

Run it as a process (`python -m tests.openai_server --port 0 ...`): it prints its port on the first line.
GET /_stats returns what it saw: requests, faults injected, and how often each request body was answered.
Every reply goes out in one write on a TCP_NODELAY socket (else delayed ACKs add ~45 ms a request).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import socket
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

TRANSPORT_FAULTS = ("429", "500", "slow", "drop", "truncated_body")
CONTENT_FAULTS = ("not_json", "schema_violation", "length")
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
        return {name: instance(sub, rng) for name, sub in schema.get("properties", {}).items()}
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


def schema_of(body: dict[str, Any]) -> dict[str, Any]:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    if fmt.get("type") == "json_object" and "schema" in fmt:
        return fmt["schema"]
    return {"type": "object", "properties": {"ok": {"type": "boolean"}}}


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
    ):
        self.latency, self.fault_rate, self.faults = latency, fault_rate, faults
        self.rng = random.Random(seed)
        self.retry_after, self.slow_s, self.modes = retry_after, slow_s, modes
        self.requests = 0
        self.authorized = 0  # requests that carried an API key
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # body hash -> 200s with a reply
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self.route(method, path, headers, body, writer):
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
        self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        path = path.split("?")[0]
        if path == "/_stats":
            self.send(
                writer,
                200,
                {
                    "requests": self.requests,
                    "injected": dict(self.injected),
                    "answered": dict(self.answered),
                    "batches": len(self.batches),
                    "authorized": self.authorized,
                },
            )
        elif path == "/v1/models":
            self.send(writer, 200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        elif path == "/v1/chat/completions":
            return await self.chat(json.loads(body), body, writer, headers)
        elif path == "/v1/files" and method == "POST":
            self.send(writer, 200, self.upload(headers, body))
        elif path.startswith("/v1/files/") and path.endswith("/content"):
            self.send(writer, 200, None, raw=self.files[path.split("/")[3]])
        elif path == "/v1/batches" and method == "POST":
            self.send(writer, 200, self.create_batch(json.loads(body)))
        elif path.startswith("/v1/batches/"):
            self.send(writer, 200, self.batch_status(path.split("/")[3]))
        else:
            self.send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        await writer.drain()
        return True

    def completion(self, request: dict[str, Any], content_fault: str | None = None) -> dict[str, Any]:
        digest = hashlib.sha256(json.dumps(request["messages"], sort_keys=True).encode()).hexdigest()
        rng = random.Random(digest + str(request.get("seed")))
        text = json.dumps(instance(schema_of(request), rng))
        finish = "stop"
        if content_fault == "not_json":
            text = "Here is the item you asked for: " + text[: len(text) // 2]
        elif content_fault == "schema_violation":
            text = json.dumps({"unexpected": True})
        elif content_fault == "length":
            text, finish = text[: len(text) // 2], "length"
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

    async def chat(
        self, request: dict[str, Any], body: bytes, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> bool:
        self.requests += 1
        if headers.get("authorization", "").startswith("Bearer sk-"):
            self.authorized += 1
        mode = (request.get("response_format") or {}).get("type", "text")
        if mode not in self.modes:
            self.send(writer, 400, {"error": {"message": f"response_format {mode} is not supported"}})
            await writer.drain()
            return True
        fault = self.rng.choice(self.faults) if self.faults and self.rng.random() < self.fault_rate else None
        if fault:
            self.injected[fault] += 1
        await asyncio.sleep(self.slow_s if fault == "slow" else self.latency)
        if fault == "429":
            self.send(writer, 429, {"error": {"message": "rate limited"}}, {"retry-after": f"{self.retry_after:g}"})
        elif fault == "500":
            self.send(writer, 500, {"error": {"message": "internal error"}})
        elif fault == "drop":
            return False
        elif fault == "truncated_body":
            whole = json.dumps(self.completion(request)).encode()
            self.send(writer, 200, None, raw=whole[: len(whole) // 2])
        else:
            if fault != "slow":  # a slow reply comes after the client gave up: nobody receives it
                self.answered[hashlib.sha256(body).hexdigest()[:16]] += 1
            self.send(writer, 200, self.completion(request, fault if fault in CONTENT_FAULTS else None))
        await writer.drain()
        return True

    # The Batch API: files in, a batch that completes at once, a file of results out.
    def upload(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        message = BytesParser(policy=HTTP).parsebytes(
            f"content-type: {headers['content-type']}\r\n\r\n".encode() + body
        )
        content = next(p.get_payload(decode=True) for p in message.iter_parts() if p.get_filename())
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = content
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "purpose": "batch",
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "status": "processed",
        }

    def create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"batch-{len(self.batches)}"
        lines = []
        for line in self.files[request["input_file_id"]].decode().splitlines():
            task = json.loads(line)
            self.requests += 1
            self.answered[hashlib.sha256(json.dumps(task["body"], sort_keys=True).encode()).hexdigest()[:16]] += 1
            lines.append(
                json.dumps(
                    {
                        "id": f"r-{task['custom_id']}",
                        "custom_id": task["custom_id"],
                        "error": None,
                        "response": {"status_code": 200, "body": self.completion(task["body"])},
                    }
                )
            )
        out_id = f"file-{len(self.files)}"
        self.files[out_id] = ("\n".join(lines) + "\n").encode()
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": request["endpoint"],
            "input_file_id": request["input_file_id"],
            "completion_window": "24h",
            "created_at": int(time.time()),
            "output_file_id": out_id,
            "polls": 0,
        }
        return {**self.batches[batch_id], "status": "validating"}

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        batch["polls"] += 1
        # In progress at the first look, complete from the second: the client must poll.
        return {**batch, "status": "in_progress" if batch["polls"] < 2 else "completed"}


async def main(args: argparse.Namespace) -> None:
    server = Server(
        args.latency,
        args.fault_rate,
        args.faults.split(",") if args.faults else [],
        args.seed,
        args.retry_after,
        args.slow_s,
        args.modes.split(","),
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
    asyncio.run(main(p.parse_args()))
