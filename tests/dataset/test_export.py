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
from tests.conftest import ROOT
from tests.dataset.conftest import curated_run

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path) -> dict[str, Any]:
    """A run generated, validated, deduplicated, kept unreviewed, curated, tuned (for its splits) and exported."""
    folder = tmp_path_factory.mktemp("export")
    project, run, base_url = curated_run(
        folder, 40, **{"train.base_model": str(tiny_llama), "train.epochs": 1, "train.max_length": 128}
    )
    studio.tune(project, show_progress=False)
    result = studio.export(project)
    return {
        "project": project,
        "run": run,
        "result": result,
        "base_url": base_url,
        "folder": folder,
        "model": tiny_llama,
    }


def split_ids(run: Run) -> dict[str, list[str]]:
    """Each split's item ids, as `studio tune` wrote them (splits/<split>.jsonl)."""
    return {name: [r.id for r in read_records(run.file("splits") / f"{name}.jsonl")] for name in SPLITS}


def plain(value: Any) -> Any:
    """A table's row as the item it holds: empty fields (other kinds' properties) left out, arrays as lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None and v == v}  # pandas' NaN for a null
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def curated(run: Run) -> list[Record]:
    return read_records(run.file("curated"))


def test_every_format_holds_the_curated_items_in_their_splits(exported: dict[str, Any]) -> None:
    import pandas as pd
    from datasets import List, Value, load_dataset, load_from_disk

    run = exported["run"]
    out, records, ids = run.file("dataset"), curated(run), split_ids(run)
    split_of = {i: name for name, members in ids.items() for i in members}
    assert len(records) >= 20 and sorted(split_of) == sorted(r.id for r in records)
    assert all(ids.values())  # every split holds items

    # data.jsonl: the curated records, with their shareable provenance and no endpoint URL.
    shared = read_records(out / "data.jsonl")
    assert [(r.id, r.data) for r in shared] == [(r.id, r.data) for r in records]
    for line, record in zip(shared, records, strict=True):
        assert line.meta["split"] == split_of[record.id] and line.meta["axes"] == record.meta["axes"]
        assert line.meta["generator"] == "fake" and line.meta["review"]["by"] == "none"
    assert exported["base_url"] not in (out / "data.jsonl").read_text()

    # Every table, as pandas, `load_from_disk` and `load_dataset` (the Hub's way, splits from the card) read it:
    # the item's fields typed as the schema says, and its provenance under `meta`.
    by_id = {r.id: r for r in records}
    table = pd.read_parquet(out / "data.parquet")
    assert list(table.columns[-1:]) == ["meta"] and "id" not in table.columns
    assert [m["id"] for m in table["meta"]] == [r.id for r in records]
    for values in table.to_dict("records"):
        record = by_id[values["meta"]["id"]]
        assert values["meta"]["split"] == split_of[record.id] and values["meta"]["axes"] == record.meta["axes"]
        assert plain({k: v for k, v in values.items() if k != "meta"}) == record.data
    typed = 0
    hub = load_dataset(str(out), cache_dir=str(exported["folder"] / "hf-cache"))  # as the Hub would load it
    for dataset in (load_from_disk(str(out / "hf")), hub):
        assert set(dataset) == set(SPLITS)
        for name in SPLITS:
            features = dataset[name].features
            assert features["properties"]["density_kg_m3"] == Value("int64")
            assert features["uses"] == List(Value("string")) and features["appearance"]["grain"] == Value("string")
            rows = dataset[name].to_list()
            assert [r["meta"]["id"] for r in rows] == [r.id for r in records if split_of[r.id] == name]
            for values in rows:
                record = by_id[values["meta"]["id"]]
                assert plain({k: v for k, v in values.items() if k != "meta"}) == record.data
                assert values["meta"]["split"] == name
                typed += isinstance((values["properties"] or {}).get("density_kg_m3"), int)
    assert typed > 0  # integers arrive as integers, not text

    # OpenAI's chat fine-tuning lines, in the order of data.jsonl: system, user, assistant, in the item's own
    # words (a question item's question and answer; else an instruction on its focus and style, and its text),
    # the very pair `studio tune` trained on.
    tuned = load_from_disk(str(run.file("splits")))
    system = "You are an expert on penguin wood. Answer accurately and concisely."
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
    assert "No person reviewed these items" in card
    # What each stage took out, with the run's own numbers, and no raw dict or None anywhere.
    validate, dedup = run.stage("validate")["counts"], run.stage("dedup")["counts"]
    for rule, n in validate["by_rule"].items():
        assert f"| validate | {rule.replace('_', ' ')} | {n} |" in card
    for method, n in dedup["by_method"].items():
        assert (f"| dedup | {method} duplicate | {n} |" in card) is (n > 0)
    accepted = run.stage("generate")["counts"]["accepted"]
    assert f"after a repair request | {planned - accepted} |" in card or planned == accepted
    assert "None" not in card and "{" not in card.split("---", 2)[2]
    assert "sampled at temperature" in card
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


def test_full_provenance_is_shared_only_when_asked_for(exported: dict[str, Any], tmp_path: Path) -> None:
    from studio.dataset.export import export

    run = exported["run"]
    public = (run.file("dataset") / "data.jsonl").read_text()
    full_project = pipeline.open_project(exported["project"], **{"share.provenance": "full"})
    export(full_project, run, tmp_path, say=lambda _: None)
    full = read_records(tmp_path / "data.jsonl")
    assert exported["base_url"] not in public and '"base_url"' not in public
    split_of = {i: name for name, members in split_ids(run).items() for i in members}
    assert [(r.id, r.meta) for r in full] == [(r.id, {**r.meta, "split": split_of[r.id]}) for r in curated(run)]
    assert {r.meta["base_url"] for r in full} == {exported["base_url"]}


def test_an_item_without_a_response_is_left_out_of_the_chat_file(exported: dict[str, Any]) -> None:
    # OpenAI's fine-tuning API refuses an assistant turn without content: no `"content": null` line.
    from studio.dataset.export import openai_chat

    p = pipeline.open_project(exported["project"])
    item = next(r for r in curated(exported["run"]) if "question" not in r.data)
    assert openai_chat(p, item)["messages"][2]["content"] == item.data["text"]
    assert openai_chat(p, Record(item.id, {k: v for k, v in item.data.items() if k != "text"}, item.meta)) is None
