"""`studio review serve|status|stop` as a user runs them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio.review import server
from tests.conftest import run_studio


def test_status_says_when_nothing_runs(tmp_path: Path) -> None:
    done = run_studio("review", "status", env={"STUDIO_HOME": str(tmp_path)})
    assert done.returncode == 1 and "not running" in done.stdout


@pytest.mark.argilla
def test_serve_again_reports_the_running_stack_at_once(argilla) -> None:
    t0 = time.monotonic()
    stack, started = server.serve()
    assert not started and stack.url == argilla.url and time.monotonic() - t0 < 5
    assert all(stack.alive().values()) and set(stack.pids) == {"redis", "osmem", "server", "worker"}
