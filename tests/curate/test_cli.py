"""The gate as a user runs it: separate processes, files in, files and one summary out."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, copy_project, run_studio
from tests.curate.conftest import DISTINCT, planted, read_lines, write_lines

SCHEMA = str(ROOT / "schemas/penguin_wood.json")


def test_validate_then_dedup_a_file(tmp_path: Path) -> None:
    records, twins = planted()
    source = write_lines(tmp_path / "items.jsonl", records)
    with open(source, "a") as f:
        f.write("{broken\n")
    done = run_studio("validate", str(source), "--schema", SCHEMA, "--out", str(tmp_path / "gate"))
    assert done.returncode == 0, done.stderr
    assert f"checked {len(records) + 1} line(s)" in done.stdout and "1 invalid" in done.stdout
    assert "json: not valid JSON" in done.stdout
    valid = tmp_path / "gate/valid.jsonl"
    assert len(read_lines(valid)) == len(records)

    done = run_studio("dedup", str(valid), "--out", str(tmp_path / "gate"), "--no-semantic")
    assert done.returncode == 0, done.stderr
    assert f"{len(DISTINCT)} unique, {len(twins)} duplicates (4 exact, 8 near, 0 semantic)" in done.stdout
    assert str(tmp_path / "gate/duplicates.jsonl") in done.stdout


def test_run_mode_writes_the_run_files(tmp_path: Path) -> None:
    project = copy_project(tmp_path, {"curate.dedup.semantic": False})
    run_dir = tmp_path / "outputs/penguin-wood/t"
    records, twins = planted()
    run_dir.mkdir(parents=True)
    write_lines(run_dir / "01-generated.jsonl", records)
    done = run_studio("validate", "--project", str(project), "--run", "t")
    assert done.returncode == 0, done.stderr
    assert "next:    studio dedup --run t" in done.stdout
    done = run_studio("dedup", "--project", str(project), "--run", "t")
    assert done.returncode == 0, done.stderr
    assert len(read_lines(run_dir / "03-unique.jsonl")) == len(DISTINCT)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["validate"]["counts"]["valid"] == len(records)
    assert manifest["stages"]["dedup"]["counts"]["duplicates"] == len(twins)
    again = run_studio("dedup", "--project", str(project), "--run", "t")
    assert "dedup is up to date" in again.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "valid.jsonl", [{"id": "a", "body": "no text field"}])
    cases = [
        (("validate", str(source)), "no schema: give --schema FILE"),
        (("validate", str(tmp_path / "missing.jsonl"), "--schema", SCHEMA), "missing.jsonl: file not found"),
        (("dedup", str(source), "--no-semantic"), "valid.jsonl: line 1: no text at `text`"),
        (("dedup", str(source), "--text-field", "body", "--against", str(tmp_path)), "a run folder without"),
        (("validate", str(source), "--schema", SCHEMA, "--out", str(tmp_path)), "would overwrite the input"),
    ]
    for args, message in cases:
        done = run_studio(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
