"""Dedup: planted duplicates found, unrelated items left, every drop naming its twin, incremental runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import pipeline
from studio.errors import StudioError
from tests.conftest import copy_project
from tests.quality.conftest import DISTINCT, planted, read_lines, write_lines


def test_planted_duplicates_are_dropped_with_their_twin(tmp_path: Path) -> None:
    records, twins = planted()
    source = write_lines(tmp_path / "in.jsonl", records)
    result = pipeline.dedup(file=source, out=tmp_path / "out", semantic=False)
    unique = read_lines(tmp_path / "out/unique.jsonl")
    dropped = {r["id"]: r["meta"]["rejected"] for r in read_lines(tmp_path / "out/duplicates.jsonl")}
    assert [r["id"] for r in unique] == [f"d{i}" for i in range(len(DISTINCT))]
    assert {rid: d["twin"] for rid, d in dropped.items()} == twins
    for rid, d in dropped.items():
        assert d["stage"] == "dedup" and d["rule"] == ("exact" if rid.startswith("exact") else "minhash")
        assert d["similarity"] >= 0.7 and d["reason"].startswith(("exact duplicate of d", "near duplicate of d"))
    assert result["counts"] == {
        "items": len(records),
        "unique": len(DISTINCT),
        "duplicates": len(twins),
        "by_method": {"exact": 4, "minhash": 8, "semantic": 0},
        "against": {"files": [], "items": 0},
        "items_per_s": result["counts"]["items_per_s"],
    }
    assert unique[0]["meta"]["dedup"] == {"twins": 3}


def test_keep_rules_choose_the_kept_record(tmp_path: Path) -> None:
    short, long = DISTINCT[0], DISTINCT[0] + " Even in rain."
    rows = [
        {"id": "a", "data": {"text": short}, "meta": {"score": 0.2}},
        {"id": "b", "data": {"text": long}, "meta": {"score": 0.9}},
        {"id": "c", "data": {"text": short.upper()}, "meta": {"score": 0.5}},
    ]
    source = write_lines(tmp_path / "in.jsonl", rows)
    kept = {}
    for keep in ("first", "longest", "best_score"):
        pipeline.dedup(file=source, out=tmp_path / keep, semantic=False, keep=keep)
        kept[keep] = [r["id"] for r in read_lines(tmp_path / keep / "unique.jsonl")]
    assert kept == {"first": ["a"], "longest": ["b"], "best_score": ["b"]}
    dropped = {r["id"]: r["meta"]["rejected"] for r in read_lines(tmp_path / "best_score/duplicates.jsonl")}
    # Exact copies first (c outranks a), then near ones (b outranks c).
    assert (dropped["a"]["twin"], dropped["a"]["rule"]) == ("c", "exact")
    assert (dropped["c"]["twin"], dropped["c"]["rule"]) == ("b", "minhash")


def test_a_chain_never_drops_a_record_for_a_twin_it_does_not_resemble(tmp_path: Path) -> None:
    # b is near a and near c, but c is not near a: with b dropped for a, c stays.
    words = DISTINCT[1].split()
    a = " ".join(words)
    b = " ".join(words[:9] + ["X1", "X2", "X3"] + words[12:])
    c = " ".join(words[:9] + ["X1", "X2", "X3"] + words[12:15] + ["Y1", "Y2", "Y3"])
    source = write_lines(tmp_path / "in.jsonl", [{"id": k, "text": t} for k, t in zip("abc", (a, b, c), strict=True)])
    pipeline.dedup(file=source, out=tmp_path, semantic=False)
    dropped = {r["id"]: r["meta"]["rejected"]["twin"] for r in read_lines(tmp_path / "duplicates.jsonl")}
    assert dropped.get("b") == "a"
    assert "c" not in dropped or dropped["c"] != "b"


def test_incremental_dedup_against_an_earlier_file(tmp_path: Path) -> None:
    accepted = write_lines(
        tmp_path / "accepted.jsonl", [{"id": f"old{i}", "text": t} for i, t in enumerate(DISTINCT[:6])]
    )
    batch = [{"id": "new-copy", "text": DISTINCT[2].upper()}, {"id": "new-edit", "text": DISTINCT[4] + " Really."}]
    batch += [{"id": f"new{i}", "text": t} for i, t in enumerate(DISTINCT[6:])]
    source = write_lines(tmp_path / "batch.jsonl", batch)
    result = pipeline.dedup(file=source, against=[accepted], out=tmp_path / "out", semantic=False)
    assert read_lines(tmp_path / "out/unique.jsonl") == batch[2:]  # plain lines keep their shape
    dropped = {r["id"]: r["meta"]["rejected"] for r in read_lines(tmp_path / "out/duplicates.jsonl")}
    assert {k: (d["twin"], d["twin_file"]) for k, d in dropped.items()} == {
        "new-copy": ("old2", str(accepted)),
        "new-edit": ("old4", str(accepted)),
    }
    assert dropped["new-copy"]["similarity"] == 1.0 and dropped["new-edit"]["measure"] == "jaccard"
    assert result["counts"]["against"] == {"files": [str(accepted)], "items": 6}


def test_plain_jsonl_with_other_fields(tmp_path: Path) -> None:
    rows = [{"key": "k1", "body": {"en": DISTINCT[0]}}, {"key": "k2", "body": {"en": DISTINCT[0] + "!"}}]
    source = write_lines(tmp_path / "in.jsonl", rows)
    pipeline.dedup(file=source, out=tmp_path / "out", id_field="key", text_field="body.en", semantic=False)
    (dropped,) = read_lines(tmp_path / "out/duplicates.jsonl")
    assert dropped["id"] == "k2" and dropped["data"] == rows[1] and dropped["meta"]["rejected"]["twin"] == "k1"
    with pytest.raises(StudioError, match=r"in.jsonl: line 1: no text at `text`"):
        pipeline.dedup(file=source, out=tmp_path / "out", semantic=False)


def test_a_number_the_generator_repeats_shows_in_the_diversity_figures(tmp_path: Path) -> None:
    # Each item passes every check alone; only the set shows that 8 of 12 hold the prompt's bound.
    project = pipeline.open_project(copy_project(tmp_path, {"quality.dedup.semantic": False}))
    run = pipeline.open_run(project, None)
    rows = [
        {
            "id": f"r{i}",
            "data": {"kind": "properties", "text": t, "properties": {"density_kg_m3": 400 if i < 8 else 450 + i}},
            "meta": {"axes": {"kind": "properties"}},
        }
        for i, t in enumerate(DISTINCT)
    ]
    write_lines(run.file("valid"), rows)
    fields = pipeline.dedup(project)["diversity"]["field_values"]
    assert fields["properties.density_kg_m3"] == {"items": 12, "distinct": 5, "top": 400, "share": 0.667}
    assert fields["kind"] == {"items": 12, "distinct": 1, "top": "properties", "share": 1.0}
    assert not any(len(t) <= 40 for t in DISTINCT) and "text" not in fields  # prose is not a value
    assert list(fields) == ["kind", "properties.density_kg_m3"]  # the most repeated first


def test_run_stage_against_a_previous_run(tmp_path: Path) -> None:
    project = pipeline.open_project(copy_project(tmp_path, {"quality.dedup.semantic": False}))
    first, second = pipeline.open_run(project, "first"), pipeline.open_run(project, "second")
    rows = [
        {"id": f"r{i}", "data": {"kind": "history", "text": t}, "meta": {"axes": {"kind": "history"}}}
        for i, t in enumerate(DISTINCT)
    ]
    write_lines(first.file("valid"), rows[:8])
    write_lines(second.file("valid"), [{**r, "id": r["id"] + "b"} for r in rows[5:]])
    pipeline.dedup(project, run="first")
    result = pipeline.dedup(project, run="second", against=[first.dir])
    assert [r["id"] for r in read_lines(second.file("unique"))] == ["r8b", "r9b", "r10b", "r11b"]
    assert {r["meta"]["rejected"]["twin"] for r in read_lines(second.file("duplicates"))} == {"r5", "r6", "r7"}
    stage = second.stage("dedup")
    assert stage["counts"]["duplicates"] == 3 and stage["diversity"]["per_axis"] == {"kind": {"history": 4}}
    assert stage["inputs"] == ["02-valid.jsonl", str(first.file("unique"))]
    assert result["diversity"]["distinct_1"] > 0.5
    assert pipeline.dedup(project, run="second", against=[first.dir])["skipped"] is True
