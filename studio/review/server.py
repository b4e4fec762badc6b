"""The local Argilla: argilla-server 2.8.0 with osmem (search), Redis (jobs) and SQLite (data), no Docker.

- install(): argilla-server gets its own virtual environment (it pins fastapi, pydantic and typer versions
  studio does not use), created once under studio.paths.cache() and shared by every project and test run.
- serve(): starts redis-server, osmem-server, the Argilla API + UI and its job worker, detached, on
  127.0.0.1. The server process first migrates the SQLite database, makes sure of the owner user and
  rebuilds the search index from SQLite (osmem keeps nothing on disk), with studio's osmem adaptation
  (in_server/osmem_engine.py) registered before anything asks for a search engine.
- Data, logs, pids and the credentials (owner-only file) live under studio.paths.home("argilla").
  Secrets never reach a command line, a log or the printed output.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from studio import paths, procs
from studio.errors import StudioError

# What the server's venv holds. click<8.2: argilla_server's typer CLI breaks with newer click.
ARGILLA_SERVER_VERSION = "2.8.0"
SERVER_REQUIREMENTS = [f"argilla-server=={ARGILLA_SERVER_VERSION}", "osmem-server==0.1.6", "click==8.1.8"]
DEFAULT_PORT = 6900
USERNAME = "studio"
IN_SERVER = Path(__file__).with_name("in_server")
READY_TIMEOUT = 90.0
# What each process of the stack runs, to recognise it by its command line.
PROGRAMS = {"redis": "redis-server", "osmem": "osmem-server", "server": "launch.py", "worker": "launch.py"}

Say = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# The server's virtual environment.
def venv_dir() -> Path:
    return paths.cache(f"argilla-server-{ARGILLA_SERVER_VERSION}")


def _venv_stamp() -> str:
    return " ".join(SERVER_REQUIREMENTS) + f" python{sys.version_info.major}.{sys.version_info.minor}"


def installed() -> bool:
    stamp = venv_dir() / ".studio-installed"
    return stamp.exists() and stamp.read_text().strip() == _venv_stamp()


def install(say: Say = _quiet) -> Path:
    """Create the argilla-server venv (about a minute, once per machine); a no-op when it is there."""
    venv = venv_dir()
    if installed():
        return venv
    with open(paths.cache() / ".argilla-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing it right now
        if installed():
            return venv
        say(f"installing argilla-server {ARGILLA_SERVER_VERSION} into its own venv {venv} (once, about a minute)")
        shutil.rmtree(venv, ignore_errors=True)
        log = paths.home("argilla", "logs") / "install.log"
        with open(log, "wb") as out:
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
                + SERVER_REQUIREMENTS,
            ]
            for cmd in steps:
                if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    raise StudioError(f"installing argilla-server failed: {' '.join(cmd[:4])} ...; see the log", log)
        (venv / ".studio-installed").write_text(_venv_stamp())
    return venv


def osmem_binary(venv: Path) -> Path:
    found = glob.glob(str(venv / "lib" / "python*" / "site-packages" / "osmem_server" / "bin" / "osmem-server"))
    if not found:
        raise StudioError("the osmem-server binary is missing from the argilla-server venv", venv)
    return Path(found[0])


# Credentials: generated once, owner-only.
def credentials_path() -> Path:
    return paths.home("argilla") / "credentials.json"


def credentials() -> dict[str, str]:
    path = credentials_path()
    if not path.exists():
        fresh = {
            "username": USERNAME,
            "password": secrets.token_urlsafe(18),
            "api_key": "studio.apikey." + secrets.token_urlsafe(24),
            "auth_secret_key": secrets.token_hex(32),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(fresh, f, indent=2)
    os.chmod(path, 0o600)
    return json.loads(path.read_text())


# The running stack.
@dataclass
class Stack:
    port: int
    pids: dict[str, int]
    ports: dict[str, int]
    started_at: float
    venv: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def username(self) -> str:
        return USERNAME

    @property
    def credentials_file(self) -> Path:
        return credentials_path()

    @property
    def log_dir(self) -> Path:
        return paths.home("argilla", "logs")

    def alive(self) -> dict[str, bool]:
        return {name: procs.running(pid, PROGRAMS[name]) for name, pid in self.pids.items()}

    def api_key(self) -> str:
        return credentials()["api_key"]


def _state_path() -> Path:
    return paths.home("argilla") / "stack.json"


def _read_state() -> Stack | None:
    try:
        return Stack(**json.loads(_state_path().read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def status() -> Stack | None:
    """The running stack when every process lives and the API answers; else None."""
    stack = _read_state()
    if stack and all(stack.alive().values()) and procs.answers(f"{stack.url}/api/v1/status", timeout=2.0):
        return stack
    return None


def serve(port: int | None = None, say: Say = _quiet) -> tuple[Stack, bool]:
    """Start the stack, or report the healthy one. Returns (stack, started). A half-dead stack is restarted."""
    running = status()
    if running:
        return running, False
    with open(paths.home("argilla") / "serve.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be starting it right now
        running = status()
        if running:
            return running, False
        return _start(port, say), True


def _start(port: int | None, say: Say) -> Stack:
    stop()
    venv = install(say)
    credentials()  # generated on first use, before the server reads them
    home = paths.home("argilla")
    data, logs = paths.home("argilla", "data"), paths.home("argilla", "logs")
    port = procs.free_port(DEFAULT_PORT if port is None else port)
    ports = {"redis": procs.free_port(0), "osmem": procs.free_port(0)}
    python = str(venv / "bin" / "python")
    # A clean environment: the user's keys and ARGILLA_* settings stay out of the server's processes.
    env = {
        **{k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ},
        "ARGILLA_HOME_PATH": str(data),
        "ARGILLA_SEARCH_ENGINE": "opensearch",
        "ARGILLA_ELASTICSEARCH": f"http://127.0.0.1:{ports['osmem']}",
        "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "STUDIO_ARGILLA_CREDENTIALS": str(credentials_path()),
    }
    commands = {
        # Redis holds only queued jobs: no snapshots, nothing written to disk.
        "redis": [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(ports["redis"]),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        "osmem": [str(osmem_binary(venv)), "--no-ja", "--no-stdin-watch", "--addr", f"127.0.0.1:{ports['osmem']}"],
        "server": [python, str(IN_SERVER / "launch.py"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        "worker": [python, str(IN_SERVER / "launch.py"), "worker"],
    }
    if shutil.which("redis-server") is None:
        raise StudioError("redis-server is not installed (scripts/setup.sh installs it: apt-get install redis-server)")
    started: dict[str, subprocess.Popen] = {}
    for name in ("redis", "osmem"):
        started[name] = procs.spawn(commands[name], logs / f"{name}.log", env, home)
    for name in ("redis", "osmem"):
        _wait_port(ports[name], started[name], logs / f"{name}.log", name)
    for name in ("server", "worker"):
        started[name] = procs.spawn(commands[name], logs / f"{name}.log", env, home)
    pids = {name: proc.pid for name, proc in started.items()}
    stack = Stack(port, pids, ports, time.time(), str(venv))
    _state_path().write_text(json.dumps(asdict(stack)))
    say(f"starting the local Argilla at {stack.url} (logs in {logs})")
    deadline = time.monotonic() + READY_TIMEOUT
    while not procs.answers(f"{stack.url}/api/v1/status", timeout=1.0):
        dead = [name for name, proc in started.items() if proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            log = logs / f"{dead[0] if dead else 'server'}.log"
            stop()
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
            why = f"{dead[0]} exited" if dead else f"not ready after {READY_TIMEOUT:.0f} s"
            raise StudioError(f"the local Argilla did not start ({why}): {tail[0][:300]}", log)
        time.sleep(0.2)
    return stack


def stop() -> bool:
    """Stop every process of the stack. Returns whether any was running."""
    stack = _read_state()
    if stack is None:
        return False
    _state_path().unlink(missing_ok=True)
    running = {name: pid for name, pid in stack.pids.items() if procs.running(pid, PROGRAMS[name])}
    # The API first (it writes the database), Redis last (the others talk to it).
    for name in ("server", "worker", "osmem", "redis"):
        if name in running:
            _signal(running[name], signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(procs.running(pid, PROGRAMS[name]) for name, pid in running.items()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, pid in running.items():
        if procs.running(pid, PROGRAMS[name]):
            _signal(pid, signal.SIGKILL)
    return bool(running)


# Processes.
def _wait_port(port: int, proc: subprocess.Popen, log: Path, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    stop()
    raise StudioError(f"{name} did not start on port {port}", log)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
