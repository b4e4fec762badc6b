"""Fixtures of the train tests: a tiny random Llama with a tokenizer trained here, records, projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.records import write_jsonl
from tests.conftest import copy_project
from tests.train.items import penguin_records


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    """120 penguin-wood records of all five kinds."""
    path = tmp_path / "items.jsonl"
    write_jsonl(path, penguin_records(120, seed=1))
    return path


def tiny_project(dest: Path, model: Path, **train: Any) -> Path:
    """The penguin-wood project tuning the tiny model briefly; `train` overrides train.* keys."""
    settings = {"base_model": str(model), "epochs": 2, "batch_size": 8, "max_length": 128, "eval.generations": 2}
    # The seeded items are made from a few templates, so many are near copies: these tests count split sizes
    # and steps, and keep every drawn test item where it was drawn (decontamination: tests/train/test_data.py).
    # No experiment trackers (about 20 s a tune with MLflow): test_tune.py's tracking test asks for them.
    settings |= {"eval.max_new_tokens": 8, "splits.decontaminate": None, "report_to": "none", **train}
    return copy_project(dest, {f"train.{k}": v for k, v in settings.items()})
