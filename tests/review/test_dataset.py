"""What an item looks like in Argilla, and how answers and corrections come back (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.project import load_project
from studio.review.dataset import guidelines, metadata_properties, to_argilla
from studio.review.pull import answers_of, apply_correction, unreviewed_policy
from studio.review.push import stratify_axes
from studio.schema import DomainSchema
from tests.conftest import ROOT, copy_project
from tests.review.items import make_items

QUESTIONS = {"decision": "q-decision", "rating": "q-rating", "correction": "q-correction"}


def test_an_item_becomes_fields_metadata_and_a_hint_where_the_gate_doubted() -> None:
    plain, near_duplicate = make_items(11)[1], make_items(11)[10]
    item = to_argilla(plain, "text", QUESTIONS)
    assert item["external_id"] == plain.id
    assert item["fields"]["text"] == plain.data["text"]
    assert "density_kg_m3: 501" in item["fields"]["attributes"] and "kind: properties" in item["fields"]["attributes"]
    assert item["metadata"]["axis_kind"] == "properties" and item["metadata"]["axis_length"] == "medium"
    assert item["metadata"]["length"] == len(plain.data["text"]) and item["metadata"]["template"] == "item"
    assert "suggestions" not in item
    doubted = to_argilla(near_duplicate, "text", QUESTIONS)
    assert doubted["metadata"]["dedup_similarity"] == near_duplicate.meta["dedup"]["cosine"]
    assert item["metadata"]["dedup_similarity"] == plain.meta["dedup"]["cosine"] < 0.8  # shown, no hint
    assert doubted["suggestions"] == [
        {
            "question_id": "q-decision",
            "value": "reject",
            "score": round(doubted["metadata"]["dedup_similarity"], 3),
            "agent": "studio-gate",
        }
    ]


def test_settings_come_from_the_domain(tmp_path: Path) -> None:
    project = load_project(copy_project(tmp_path))
    names = [m["name"] for m in metadata_properties(project)]
    assert names[:5] == ["axis_kind", "axis_focus", "axis_style", "axis_audience", "axis_length"]
    assert {"template", "length", "dedup_similarity", "warnings"} <= set(names)
    assert project.domain.description.strip() in guidelines(project)


def test_corrections_replace_the_text_or_patch_attributes() -> None:
    data = make_items(1)[0].data
    assert apply_correction(data, "A new text.", "text") == {**data, "text": "A new text."}
    patched = apply_correction(data, '{"appearance": {"colour": "grey"}}', "text")
    assert patched["appearance"] == {**data["appearance"], "colour": "grey"} and patched["text"] == data["text"]
    with pytest.raises(ValueError, match="not valid JSON"):
        apply_correction(data, "{colour: grey", "text")
    schema = DomainSchema.load(ROOT / "schemas" / "penguin_wood.json")
    assert schema.first_error(apply_correction(data, '{"appearance": {"grain": "zigzag"}}', "text"))


def test_answers_keep_submitted_and_discarded_and_skip_drafts() -> None:
    record = {
        "responses": [
            {
                "user_id": "u1",
                "status": "submitted",
                "updated_at": "t2",
                "values": {"decision": {"value": "accept"}, "rating": {"value": 4}, "correction": {"value": "  "}},
            },
            {"user_id": "u2", "status": "discarded", "updated_at": "t1", "values": None},
            {"user_id": "u3", "status": "draft", "updated_at": "t3", "values": {"decision": {"value": "reject"}}},
        ]
    }
    answers = answers_of(record, {"u1": "ann1"})
    assert [(a.user, a.status, a.decision, a.rating, a.correction) for a in answers] == [
        ("u2", "discarded", None, None, None),
        ("ann1", "submitted", "accept", 4, None),
    ]


def test_unreviewed_policy(tmp_path: Path) -> None:
    keep_if = load_project(copy_project(tmp_path, {"review.min_acceptance": 0.7}))
    assert unreviewed_policy(keep_if, 0.8)[0] is True
    assert unreviewed_policy(keep_if, 0.6)[0] is False
    assert unreviewed_policy(keep_if, None)[0] is False
    drop = load_project(copy_project(tmp_path, {"review.unreviewed": "drop"}))
    assert unreviewed_policy(drop, 1.0) == (False, "not reviewed; dropped (review.unreviewed: drop)")


def test_review_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match=r"line \d+: review: give size or fraction, not both"):
        load_project(copy_project(tmp_path, {"review.size": 10, "review.fraction": 0.5}))
    with pytest.raises(StudioError, match="review.consensus"):
        load_project(copy_project(tmp_path, {"review.consensus": "vote"}))
    with pytest.raises(StudioError, match=r"review.stratify\[1\]: 'colour' is not an axis"):
        stratify_axes(load_project(copy_project(tmp_path, {"review.stratify": ["kind", "colour"]})))
