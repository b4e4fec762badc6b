"""The run folder: one writer at a time, and a manifest that tells which stages are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.runs import Run


def test_a_second_writer_gets_a_clear_error_and_the_lock_is_released(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "penguin-wood", "r1")
    with (
        run.locked(),
        pytest.raises(StudioError, match="another studio process is working on this run"),
        Run(run.dir).locked(),
    ):
        pass
    with run.locked():  # released when the first writer finished
        pass


def test_a_stage_is_current_only_with_its_fingerprint_and_outputs(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "penguin-wood")
    (run.dir / "02-valid.jsonl").write_text("")
    run.record_stage("validate", {"fingerprint": "abc", "outputs": ["02-valid.jsonl"], "complete": True})
    assert run.is_current("validate", "abc") and not run.is_current("validate", "abd")
    (run.dir / "02-valid.jsonl").unlink()
    assert not run.is_current("validate", "abc")
    run.record_stage("tune", {"fingerprint": "x", "outputs": [], "complete": False})
    assert not run.is_current("tune", "x")
