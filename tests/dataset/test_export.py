"""studio export: the curated items, split as `studio tune` split them, in every format of run/dataset/ (JSONL,
Parquet, a `datasets` folder, OpenAI chat fine-tuning JSONL) and a dataset card without paths or URLs; an
unchanged export is skipped. The run is made by the pipeline against tests/openai_server.py and the tiny Llama."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import studio
from studio import pipeline
from studio.records import Record, read_records
from studio.runs import Run
from tests.conftest import ROOT, FakeOpenAI, copy_project

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path) -> dict[str, Any]:
    """A run generated, validated, deduplicated, kept unreviewed, curated, tuned (for its splits) and exported."""
    folder = tmp_path_factory.mktemp("export")
    server = FakeOpenAI()
    try:
        project = copy_project(
            folder,
            {
                "endpoint.base_url": server.base_url,
                "endpoint.model": "fake",
                "endpoint.structured_output": "json_object",
                "generate.n": 40,
                "review.mode": "none",
                "quality.dedup.semantic": False,
                "quality.clean.language": False,  # the test server writes word lists, not English sentences
                "quality.topic.enabled": False,  # word lists are off any topic
                "judge.enabled": False,  # the test server would score at random
                "train.base_model": str(tiny_llama),
                "train.epochs": 1,
                "train.max_length": 128,
            },
        )
        studio.generate(project, show_progress=False)
    finally:
        server.stop()
    studio.validate(project)
    studio.dedup(project)
    studio.judge(project)
    p = pipeline.open_project(project)
    run = pipeline.open_run(p)
    pipeline.run_one("review", p, run, review_mode="none")
    studio.curate(project)
    studio.tune(project, show_progress=False)
    result = studio.export(project)
    return {
        "project": project,
        "run": run,
        "result": result,
        "base_url": server.base_url,
        "folder": folder,
        "model": tiny_llama,
    }


def split_ids(run: Run) -> dict[str, list[str]]:
    """Each split's item ids, as `studio tune` wrote them (splits/<split>.jsonl)."""
    return {name: [r.id for r in read_records(run.file("splits") / f"{name}.jsonl")] for name in SPLITS}


def curated(run: Run) -> list[Record]:
    return read_records(run.file("curated"))


def test_every_format_holds_the_curated_items_in_their_splits(exported: dict[str, Any]) -> None:
    import pandas as pd
    from datasets import load_from_disk

    run = exported["run"]
    out, records, ids = run.file("dataset"), curated(run), split_ids(run)
    split_of = {i: name for name, members in ids.items() for i in members}
    assert len(records) >= 20 and sorted(split_of) == sorted(r.id for r in records)
    assert all(ids.values())  # every split holds items

    # data.jsonl: the curated records themselves.
    assert [(r.id, r.data, r.meta) for r in read_records(out / "data.jsonl")] == [
        (r.id, r.data, r.meta) for r in records
    ]

    # data.parquet: one row per item, its fields (nested ones as JSON), its split and its axes.
    table = pd.read_parquet(out / "data.parquet")
    assert list(table["id"]) == [r.id for r in records]
    for record, row in zip(records, table.to_dict("records"), strict=True):
        assert row["split"] == split_of[record.id]
        assert json.loads(row["axes"]) == record.meta["axes"]
        for key, value in record.data.items():
            assert (json.loads(row[key]) if isinstance(value, dict | list) else row[key]) == value, key

    # The `datasets` folder: the same splits, with the same items.
    dataset = load_from_disk(str(out / "hf"))
    assert set(dataset) == set(SPLITS)
    for name in SPLITS:
        assert dataset[name]["id"] == [r.id for r in records if split_of[r.id] == name]
        assert dataset[name]["text"] == [r.data["text"] for r in records if split_of[r.id] == name]

    # OpenAI's chat fine-tuning lines, in the order of data.jsonl: system, user, assistant, in the item's own
    # words (a question item's question and answer; else an instruction on its focus and style, and its text),
    # the very pair `studio tune` trained on.
    tuned = load_from_disk(str(run.file("splits")))
    system = "You are an expert on penguin wood, a fictional timber. Answer accurately and concisely."
    for name in SPLITS:
        lines = [json.loads(line) for line in (out / f"openai_chat_{name}.jsonl").read_text().splitlines()]
        members = [r for r in records if split_of[r.id] == name]
        assert len(lines) == len(members)
        trained = {i: (p, t) for i, p, t in zip(*(tuned[name][c] for c in ("id", "prompt", "text")), strict=True)}
        for line, record in zip(lines, members, strict=True):
            assert list(line) == ["messages"]
            assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
            assert all(set(m) == {"role", "content"} for m in line["messages"])
            (_, sys_content), (_, user), (_, assistant) = (m.values() for m in line["messages"])
            assert sys_content == system
            if "question" in record.data:
                assert (user, assistant) == (record.data["question"], record.data["answer"])
            else:
                axes = record.meta["axes"]
                assert assistant == record.data["text"] and axes["focus"] in user and axes["style"] in user
            assert (user, assistant) == trained[record.id]


def test_the_dataset_card_states_the_counts_and_no_paths_or_urls(exported: dict[str, Any]) -> None:
    run = exported["run"]
    card = (run.file("dataset") / "README.md").read_text()
    records, ids = curated(run), split_ids(run)
    assert card.startswith("---\n") and 'license: "cc-by-4.0"' in card and 'size_categories: ["n<1K"]' in card
    for name in SPLITS:
        assert f"| {name} | {len(ids[name])} |" in card
    planned = run.stage("generate")["counts"]["planned"]
    assert f"| planned | {planned} |" in card
    assert f"| unique | {len(read_records(run.file('unique')))} |" in card
    assert f"| curated (accepted in review or kept unreviewed) | {len(records)} |" in card
    kinds = {str(r.data["kind"]) for r in records}
    for kind in kinds:
        assert f"{kind} ({sum(r.data['kind'] == kind for r in records)})" in card
    assert "Review mode `none`: no item was reviewed by people." in card
    # What was done, as the settings had it: no embedding dedup, no language filter, no on-topic check, no LLM
    # judge, no review claimed.
    made = (
        "- Then: schema validation and cleaning (filters: length, repetition, personal data, residue, placeholder, "
        "meta talk, instruction echo, qa scaffold, truncation), exact, MinHash deduplication and no human review."
    )
    assert made in card
    # The run knows the endpoint (in each item's provenance) and the base model's folder (in the manifest);
    # the card names neither, nor any other path.
    base_url, model = exported["base_url"], str(exported["model"])
    assert base_url in run.file("curated").read_text() and model in run.manifest_path.read_text()
    for secret in (base_url, "127.0.0.1", model, str(exported["folder"]), str(ROOT), str(Path.home())):
        assert secret not in card
    assert "://" not in card and not re.search(r"(^|[\s`(])/[\w.-]+/", card)


def test_an_unchanged_export_is_skipped_and_force_exports_again(exported: dict[str, Any]) -> None:
    project, out = exported["project"], exported["run"].file("dataset")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    assert exported["result"]["counts"] == {name: len(ids) for name, ids in split_ids(exported["run"]).items()}

    again = studio.export(project)
    assert again["skipped"] and {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before

    forced = studio.export(project, force=True)
    assert not forced.get("skipped") and forced["counts"] == exported["result"]["counts"]
    assert sorted(p for p in out.rglob("*") if p.is_file()) == files
    for path in (out / "data.jsonl", out / "README.md"):  # written anew, with the same content
        assert path.stat().st_mtime_ns != before[path][0] and path.read_bytes() == before[path][1]
