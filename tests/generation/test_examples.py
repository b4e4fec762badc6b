"""Seed examples: drawn into each prompt, seeded by the item, of the item's own kind; read with pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from studio.errors import StudioError
from studio.generation.examples import ExamplePool
from studio.generation.plan import plan
from studio.generation.requests import Requests
from studio.project import load_project
from studio.target import Target
from tests.conftest import ROOT, copy_project

EXAMPLES = pd.read_csv(ROOT / "prompts/penguin-wood/examples.csv")


def test_each_prompt_carries_an_example_of_its_own_kind_and_the_draw_is_stable(tmp_path: Path) -> None:
    settings = {
        "generate.seed_examples": {"file": "prompts/penguin-wood/examples.csv", "per_request": 1, "match": ["kind"]}
    }
    project = load_project(copy_project(tmp_path, settings))
    builder = Requests(project, Target("http://x/v1", "fake"), "json_object")
    drawn = []
    for item in plan(project, 30):
        user = builder.request(item)[1][1]["content"]
        shown = [t for k, t in zip(EXAMPLES.kind, EXAMPLES.text, strict=True) if t in user]
        assert len(shown) == 1
        assert EXAMPLES.set_index("text").loc[shown[0], "kind"] == item.axes["kind"]
        drawn.append(shown[0])
    again = [
        ExamplePool.load(project.path("prompts/penguin-wood/examples.csv"), 1, ["kind"], 7).draw(i.id, i.axes)
        for i in plan(project, 30)
    ]
    assert [d[0]["text"] for d in again] == drawn  # the same item draws the same example in every process
    assert len(set(drawn)) > 5  # and different items draw different ones


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_jsonl_and_parquet_examples_read_like_csv(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"examples{suffix}"
    EXAMPLES.to_json(path, orient="records", lines=True) if suffix == ".jsonl" else EXAMPLES.to_parquet(path)
    pool = ExamplePool.load(path, 2, ["kind"], 0)
    assert [e["kind"] for e in pool.draw("x", {"kind": "history"})] == ["history", "history"]


def test_an_unreadable_examples_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match=r"examples.xlsx: seed examples must be .csv, .jsonl or .parquet"):
        ExamplePool.load(tmp_path / "examples.xlsx", 1, [], 0)
    with pytest.raises(StudioError, match=r"missing.csv: seed examples file not found"):
        ExamplePool.load(tmp_path / "missing.csv", 1, [], 0)
