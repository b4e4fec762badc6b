"""The gate as a user runs it: separate processes, files in, files and one summary out."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, copy_project, run_studio
from tests.quality.conftest import DISTINCT, history, planted, read_lines, write_lines

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
    project = copy_project(tmp_path, {"quality.dedup.semantic": False})
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


def one_error_line(done, *names: str) -> str:
    """The CLI failed as bad input does: exit 2 and one `studio: error:` line naming every name, no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("studio: error: ") and all(name in lines[0] for name in names), lines[0]
    return lines[0]


def test_an_out_that_is_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "items.jsonl", [{"id": "a", "data": history(DISTINCT[0]), "meta": {}}])
    taken = tmp_path / "taken.txt"
    taken.write_text("not a folder\n")
    for args in (("validate", str(source), "--schema", SCHEMA), ("dedup", str(source), "--no-semantic")):
        for out in (taken, taken / "below"):
            line = one_error_line(run_studio(*args, "--out", str(out), cwd=tmp_path), str(out))
            assert "--out expects a folder" in line
    assert taken.read_text() == "not a folder\n"


def test_dedup_says_how_it_made_up_missing_ids_and_goes_on(tmp_path: Path) -> None:
    rows = [{"text": text} for text in DISTINCT] + [{"text": DISTINCT[0]}]
    source = write_lines(tmp_path / "plain.jsonl", rows)
    done = run_studio("dedup", str(source), "--no-semantic", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "have no `id`" in line]
    assert said == [
        f"studio: {source}: {len(rows)} line(s) have no `id`: their ids are their line numbers (line-N); "
        "pass --id-field to use another key"
    ], done.stderr
    duplicates = read_lines(tmp_path / "out/duplicates.jsonl")
    assert [(d["id"], d["meta"]["rejected"]["twin"]) for d in duplicates] == [(f"line-{len(rows)}", "line-1")]
    # With the key named, nothing is made up and nothing is said.
    keyed = write_lines(tmp_path / "keyed.jsonl", [{"key": f"k{i}", **row} for i, row in enumerate(rows)])
    done = run_studio("dedup", str(keyed), "--no-semantic", "--id-field", "key", "--out", str(tmp_path / "k"))
    assert done.returncode == 0 and "have no" not in done.stderr, done.stderr


def test_dedup_refuses_repeated_ids_naming_both_lines(tmp_path: Path) -> None:
    rows = [{"id": f"i{n}", "text": text} for n, text in enumerate(DISTINCT[:4])]
    rows.append({"id": "i1", "text": DISTINCT[5]})  # line 5 repeats line 2's id
    source = write_lines(tmp_path / "repeats.jsonl", rows)
    done = run_studio("dedup", str(source), "--no-semantic", "--out", str(tmp_path / "out"), cwd=tmp_path)
    line = one_error_line(done, str(source), "'i1'", "line 2", "line 5")
    assert "must be unique" in line
    assert not (tmp_path / "out/unique.jsonl").exists()
