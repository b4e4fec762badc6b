"""The dataset's column types from the JSON Schema (studio/dataset/features.py): what a user gets in
pandas, `datasets` and on the Hub for each kind of schema node."""

from __future__ import annotations

import json

from datasets import ClassLabel, Dataset, Features, List, Value

from studio.dataset.features import cast, item_features
from tests.test_schema import PENGUIN


def test_every_kind_s_properties_are_typed_columns() -> None:
    features = item_features(PENGUIN.schema)
    assert list(features) == ["kind", "text", "appearance", "properties", "uses", "era", "place", "question", "answer"]
    assert features["appearance"] == {"colour": Value("string"), "grain": Value("string"), "texture": Value("string")}
    assert features["properties"]["density_kg_m3"] == Value("int64")
    assert features["uses"] == List(Value("string"))


def test_the_label_is_a_class_label_and_round_trips_by_name() -> None:
    features = item_features(PENGUIN.schema, label="kind")
    assert features["kind"] == ClassLabel(names=["description", "properties", "applications", "history", "qa"])
    item = {"kind": "history", "text": "t"}
    table = Dataset.from_list([{k: cast(item.get(k), f) for k, f in features.items()}], features=Features(features))
    assert table.features["kind"].int2str(table[0]["kind"]) == "history"


def test_what_arrow_cannot_type_is_json_text() -> None:
    schema = {
        "type": "object",
        "properties": {
            "either": {"type": ["string", "integer"]},
            "free": {"type": "object"},
            "score": {"anyOf": [{"type": "integer"}, {"type": "number"}]},
            "flag": {"type": ["boolean", "null"]},
        },
    }
    features = item_features(schema)
    assert features == {
        "either": Value("string"),
        "free": Value("string"),
        "score": Value("float64"),
        "flag": Value("bool"),
    }
    row = {k: cast(v, features[k]) for k, v in {"either": 3, "free": {"a": [1]}, "score": 2, "flag": None}.items()}
    assert row == {"either": "3", "free": json.dumps({"a": [1]}), "score": 2, "flag": None}
    assert Dataset.from_list([row], features=Features(features))[0]["score"] == 2.0
