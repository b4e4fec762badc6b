"""Scoring generations: the share valid against the domain schema, and BLEU/ROUGE only where a reference is."""

from __future__ import annotations

import json

from studio.schema import DomainSchema
from studio.train import evaluate
from tests.conftest import ROOT
from tests.train.items import penguin_records


def test_the_share_of_generated_items_valid_against_the_schema() -> None:
    schema = DomainSchema.load(ROOT / "schemas" / "penguin_wood.json")
    valid = json.dumps(penguin_records(1)[0]["data"])
    samples = [
        {"prompt": "p", "reference": valid, "tuned": f"Here it is: {valid}"},  # text around the JSON is allowed
        {"prompt": "p", "reference": valid, "tuned": '{"kind": "qa", "text": "too short"}'},  # invalid item
        {"prompt": "p", "reference": valid, "tuned": '{"kind": "qa",'},  # cut off
        {"prompt": "p", "reference": valid, "tuned": valid},
    ]
    scores = evaluate.generation_scores(samples, "tuned", schema)
    assert scores["schema_valid"] == 0.5
    assert 0 < scores["rouge_l"] < 1 and 0 < scores["bleu"] < 1


def test_prompts_without_reference_are_not_scored_by_overlap() -> None:
    samples = [{"prompt": "What colour is penguin wood?", "reference": None, "tuned": "Grey."}]
    assert evaluate.generation_scores(samples, "tuned", None) == {"bleu": None, "rouge_l": None}


def test_text_prompts_are_the_first_words_and_the_rest_is_the_reference() -> None:
    test = [{"prompt": "", "text": "one two three four five six seven eight nine ten"}]
    assert evaluate.prompts_and_references(test, [], 5, "text") == [
        ("one two three four five six seven eight", "nine ten")
    ]
    assert evaluate.prompts_and_references(test, ["Hello?"], 5, "chat") == [("Hello?", None)]
