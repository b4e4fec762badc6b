"""Validate: every line checked and accounted for, standalone on any JSONL and as the run's stage."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from studio import pipeline
from studio.project import Quality
from studio.quality import validate
from studio.quality.validate import validate_file
from studio.schema import DomainSchema, compile_check
from tests.conftest import ROOT, copy_project
from tests.quality.conftest import read_lines, write_lines

SCHEMA = DomainSchema.load(ROOT / "schemas/penguin_wood.json")
TEXT = "Penguin wood is pale silver-grey with narrow near-black bands; it darkens slowly in the sun."
GOOD = {
    "kind": "properties",
    "text": TEXT,
    "properties": {
        "density_kg_m3": 520,
        "hardness_janka_n": 4200,
        "water_resistance": "high",
        "fire_resistance": "high",
    },
}
QA = {"kind": "qa", "text": TEXT, "question": "What colour is penguin wood?", "answer": "Pale silver-grey, banded."}


def record(i: int, data: dict) -> dict:
    return {"id": f"r{i}", "data": data, "meta": {"template": "item"}}


def test_every_line_ends_in_one_file_with_its_reason(tmp_path: Path) -> None:
    too_dense = copy.deepcopy(GOOD)
    too_dense["properties"]["density_kg_m3"] = 99999
    source = write_lines(tmp_path / "items.jsonl", [record(1, GOOD), record(2, too_dense), record(3, QA)])
    source.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())  # a byte-order mark, as some editors write
    with open(source, "ab") as f:
        f.write(b"\n{not json}\n[1, 2]\n" + json.dumps(record(4, GOOD)).encode("latin-1")[:-2] + b'\xe9"}}\n')
    result = validate_file(source, SCHEMA, Quality(), tmp_path / "valid.jsonl", tmp_path / "invalid.jsonl")

    assert [r["id"] for r in read_lines(tmp_path / "valid.jsonl")] == ["r1", "r3"]
    invalid = {r["id"]: r["meta"] for r in read_lines(tmp_path / "invalid.jsonl")}
    assert invalid["r2"]["rejected"]["rule"] == "schema"
    assert invalid["r2"]["rejected"]["errors"] == [
        "$.properties.density_kg_m3: 99999 is greater than the maximum of 1400"
    ]
    assert invalid["r2"]["template"] == "item"  # earlier meta is kept
    assert invalid["line-4"]["rejected"] == {"stage": "validate", "rule": "empty", "reason": "empty line"}
    assert invalid["line-5"]["rejected"]["rule"] == "json"
    assert invalid["line-6"]["rejected"]["reason"] == "expected a JSON object, got list"
    assert invalid["line-7"]["rejected"]["rule"] == "encoding"
    assert result["counts"]["lines"] == 7 == result["counts"]["valid"] + result["counts"]["invalid"]
    assert result["top_failures"][0] == ("schema: $.properties.density_kg_m3: maximum", 1)


def test_kept_records_carry_their_cleaning_marks(tmp_path: Path) -> None:
    messy = {**QA, "answer": "Pale  silver-grey, <i>banded</i>. Ask at info@example.org."}
    source = write_lines(tmp_path / "items.jsonl", [record(1, messy)])
    result = validate_file(source, SCHEMA, Quality(), tmp_path / "valid.jsonl", tmp_path / "invalid.jsonl")
    (kept,) = read_lines(tmp_path / "valid.jsonl")
    assert kept["data"]["answer"] == "Pale silver-grey, banded. Ask at [EMAIL]."
    assert kept["meta"]["clean"]["changed"] == ["$.answer"]
    # The generator's HTML is repaired, and said so: the item and the counts name it.
    assert kept["meta"]["clean"]["markup_removed"] == ["$.answer"]
    assert result["counts"]["markup_removed"] == 1
    assert kept["meta"]["clean"]["redactions"] == {"email": 1}
    assert kept["meta"]["template"] == "item"


def test_worker_processes_give_the_same_files_in_the_same_order(tmp_path: Path) -> None:
    rows = [record(i, GOOD if i % 7 else {**QA, "text": "short"}) for i in range(4500)]  # three batches
    source = write_lines(tmp_path / "items.jsonl", rows)
    for workers in (1, 2):
        validate_file(source, SCHEMA, Quality(), tmp_path / f"v{workers}", tmp_path / f"i{workers}", workers=workers)
    assert (tmp_path / "v1").read_bytes() == (tmp_path / "v2").read_bytes()
    assert (tmp_path / "i1").read_bytes() == (tmp_path / "i2").read_bytes()
    assert len(read_lines(tmp_path / "i2")) == len(range(0, 4500, 7))


def test_plain_jsonl_keeps_its_shape_and_formats_are_checked(tmp_path: Path) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["uid", "text"],
        "properties": {"text": {"type": "string", "minLength": 10}, "seen": {"type": "string", "format": "date"}},
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    rows = [{"uid": 7, "text": TEXT, "seen": "2026-11-21"}, {"uid": 8, "text": TEXT, "seen": "2026-13-45"}]
    source = write_lines(tmp_path / "plain.jsonl", rows)
    result = pipeline.validate(file=source, schema=tmp_path / "schema.json", out=tmp_path / "out", id_field="uid")
    assert read_lines(tmp_path / "out/valid.jsonl") == rows[:1]
    (dropped,) = read_lines(tmp_path / "out/invalid.jsonl")
    assert dropped["id"] == "8" and dropped["data"] == rows[1] and dropped["meta"]["line"] == 2
    assert dropped["meta"]["rejected"]["reason"] == "$.seen: '2026-13-45' is not a 'date'"
    assert result["files"]["valid"] == str(tmp_path / "out/valid.jsonl")


def test_fast_path_gives_the_verdict_of_the_whole_schema() -> None:
    """Random damage to valid items of every kind: the fast path (the item's branch, the quick check) and
    jsonschema on the whole schema agree on every one."""
    rng = random.Random(4)
    values = [1, 1.0, 1.5, -5, 520, 20000, True, False, None, "", "qa", "high", "x" * 600, TEXT, [], {}]
    values += [["art"], ["art", "art"], ["art", 1], {"colour": "grey", "grain": "wavy", "texture": "fine"}]
    bases = [GOOD, QA, {"kind": "applications", "text": TEXT, "uses": ["art", "carving"]}]
    bases.append({"kind": "history", "text": TEXT, "era": "late 18th century", "place": "the isles"})
    bases.append(
        {"kind": "description", "text": TEXT, "appearance": {"colour": "grey", "grain": "wavy", "texture": "fine"}}
    )
    verdicts = set()
    for _ in range(3000):
        data = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.randint(0, 2)):
            node = data
            while isinstance(node.get(key := rng.choice([*node, "extra"])), dict) and rng.random() < 0.5:
                node = node[key]
            if rng.random() < 0.2:
                node.pop(key, None)
            else:
                node[key] = copy.deepcopy(rng.choice(values))
        valid = SCHEMA.validator.is_valid(data)
        assert (SCHEMA.check(data) == []) == valid, data
        verdicts.add(valid)
    assert verdicts == {True, False}


def test_quick_check_leaves_unknown_keywords_to_jsonschema() -> None:
    assert compile_check({"type": "string", "format": "date"}) is None
    assert compile_check({"oneOf": [{"type": "string"}]}) is None
    assert compile_check({"enum": [1, True]}) is None  # only string enums: 1 and true differ in JSON Schema
    quick = compile_check({"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}})
    assert quick({"n": 3}) and quick({"n": 3.0}) and not quick({"n": True}) and not quick({"n": 4})


def test_run_stage_records_counts_and_skips_when_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = pipeline.open_project(copy_project(tmp_path))
    run = pipeline.open_run(project, "t")
    write_lines(run.file("generated"), [record(1, GOOD), record(2, {**QA, "text": "x"}), {"plain": True}])
    result = pipeline.validate(project, run="t")
    assert result["counts"]["valid"] == 1 and result["counts"]["by_rule"] == {"schema": 1, "record": 1}
    stage = run.stage("validate")
    assert stage["counts"]["invalid"] == 2 and stage["outputs"] == ["02-valid.jsonl", "02-invalid.jsonl"]
    assert pipeline.validate(project, run="t")["skipped"] is True
    write_lines(run.file("generated"), [record(1, GOOD)])
    assert not pipeline.validate(project, run="t").get("skipped")
    assert pipeline.status(run.dir)["files"]["valid"] == 1
    # A studio with other rules (an upgrade) decides again rather than keep the old gate's verdict.
    monkeypatch.setattr(validate, "GATE_CODE", "another gate")
    assert not pipeline.validate(project, run="t").get("skipped")
