"""`studio review` mistakes are one line and exit code 2, before any server is started."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import copy_project, run_studio


def test_push_without_judged_items_names_the_missing_file(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    done = run_studio("review", "push", "--project", str(project), "--run", "empty", env={"STUDIO_HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"studio: error: {tmp_path / 'outputs' / 'penguin-wood' / 'empty' / '03-judged.jsonl'}: "
        "not made yet: run `studio judge` first"
    ]
    assert not (tmp_path / "argilla" / "stack.json").exists()  # nothing was started


def test_bad_review_settings_are_one_line(tmp_path: Path) -> None:
    project = copy_project(tmp_path, {"review.unreviewed": "maybe"})
    done = run_studio("review", "pull", "--project", str(project))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "review.unreviewed" in done.stderr and "Traceback" not in done.stderr
