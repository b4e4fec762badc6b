"""Local services as detached processes: free ports, spawning with a log, liveness, stopping.

Shared by the local LLM server (studio.serve) and the local Argilla stack (studio.review).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from studio.errors import StudioError


def free_port(preferred: int = 0) -> int:
    """`preferred` if nothing listens on it, else any free port on 127.0.0.1."""
    for port in (preferred, 0):
        with socket.socket() as s:
            # As the servers bind: a port whose old connections linger in TIME_WAIT is free to listen on.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise StudioError("no free port on 127.0.0.1")


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start a process in its own session (it outlives the command that started it), output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def running(pid: int, program: str) -> bool:
    """The process lives (no zombie) and still runs `program` (pids get reused)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and program.encode() in cmdline


def answers(url: str, timeout: float = 1.0) -> bool:
    """A GET of `url` returns 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def terminate(pid: int, program: str, grace: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after `grace` seconds. Returns whether the process was running."""
    if not running(pid, program):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running(pid, program) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        if running(pid, program):
            os.kill(pid, signal.SIGKILL)
    return True
