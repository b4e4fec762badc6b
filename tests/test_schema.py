"""The domain schema: checked once, narrowed to the branch an item is asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.schema import DomainSchema
from tests.conftest import ROOT

PENGUIN = DomainSchema.load(ROOT / "schemas/penguin_wood.json")

QA = {
    "kind": "qa",
    "text": "Penguin wood grows on the southern isles near the colonies.",
    "question": "Where does it grow?",
    "answer": "On the southern isles.",
}


def test_valid_and_invalid_items() -> None:
    assert PENGUIN.first_error(QA) is None
    assert PENGUIN.first_error({**QA, "uses": ["art"]}) is not None  # a field of another kind
    error = PENGUIN.first_error(
        {
            "kind": "properties",
            "text": "x" * 50,
            "properties": {
                "density_kg_m3": 99999,
                "hardness_janka_n": 900,
                "water_resistance": "high",
                "fire_resistance": "low",
            },
        }
    )
    assert error == "$.properties.density_kg_m3: 99999 is greater than the maximum of 1400"


def test_narrow_picks_the_branch_of_the_planned_kind() -> None:
    narrowed = PENGUIN.narrow({"kind": "qa", "style": "x"})
    assert "oneOf" not in narrowed
    assert narrowed["properties"]["kind"] == {"const": "qa"}
    assert set(narrowed["required"]) == {"kind", "text", "question", "answer"}
    assert narrowed["additionalProperties"] is False
    assert DomainSchema(narrowed).first_error(QA) is None
    assert PENGUIN.narrow({"style": "x"}) is PENGUIN.schema  # nothing to choose by: unchanged


def test_a_broken_schema_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"type": "object", "properties": {"a": {"type": "strin"}}}))
    with pytest.raises(StudioError, match=r"s.json: \$.properties.a.type: not a valid JSON Schema"):
        DomainSchema.load(path)
