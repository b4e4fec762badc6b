"""Scoring generations: the share valid against the domain schema, BLEU/ROUGE only where a reference is, and the
LLM judge's mean (tests/openai_server.py as the judge)."""

from __future__ import annotations

import json

from studio.schema import DomainSchema
from studio.target import Target
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


def test_the_judge_mean_is_of_the_scores_it_gave_and_unscored_answers_are_left_out(fake_openai) -> None:
    # The judge replies with what follows `grade=` in the answer it is shown: its score is known for each answer.
    server = fake_openai("--reply-from", r"Answer to rate: grade=(\S+)", "--record")
    judge = Target(server.base_url, "judge-model", api_key="sk-test")
    samples = [
        {"prompt": "What colour is penguin wood?", "reference": "Silver-grey.", "base": "grade=1", "tuned": "grade=4"},
        {"prompt": "Does penguin wood burn?", "reference": None, "base": "grade=x", "tuned": "grade=Score:2"},
        {"prompt": "Who found it?", "reference": "A sealer.", "base": "grade=3", "tuned": "grade=unsure"},
        {"prompt": "Is it oily?", "reference": "Yes.", "base": "grade=n/a", "tuned": "grade=5/5"},
    ]
    domain = "Penguin wood is a fictional timber."
    assert evaluate.ask_judge(judge, samples, "tuned", domain) == round((4 + 2 + 5) / 3, 3)  # "unsure": left out
    asked = server.stats()["chats"]
    assert len(asked) == len(samples) and server.stats()["authorized"] == len(samples)
    for request, sample in zip(asked, samples, strict=True):
        assert request["model"] == "judge-model"
        question = request["messages"][-1]["content"]
        assert domain in question and sample["prompt"] in question and sample["tuned"] in question
        assert sample["reference"] in question if sample["reference"] else "reference" not in question
    assert evaluate.ask_judge(judge, samples, "base", domain) == 2.0  # x and n/a left out
    assert evaluate.ask_judge(judge, samples[1:2] + samples[3:], "base", domain) is None  # none scored


def test_a_test_split_too_small_to_tell_models_apart_is_said_with_the_intervals() -> None:
    # Per item (summed loss, tokens): the tuned model a little better than few-shot, on 4 or on 400 items.
    few = [(2.0 * 10, 10), (2.6 * 10, 10), (1.4 * 10, 10), (2.2 * 10, 10)]
    tuned = [(1.9 * 10, 10), (2.5 * 10, 10), (1.3 * 10, 10), (2.1 * 10, 10)]
    base = [(3.0 * 10, 10)] * 4

    def ppl(scored: list[tuple[float, int]]) -> dict:
        return {"all": evaluate.perplexity(scored), "ci95": evaluate.interval(scored), "shots": 1}

    small = evaluate.verdict({"base": ppl(base), "base_few_shot": ppl(few), "tuned": ppl(tuned)})
    assert "fine-tuning fits the domain best, but the test split is too small to tell it from few-shot" in small
    large = evaluate.verdict({"base": ppl(base * 100), "base_few_shot": ppl(few * 100), "tuned": ppl(tuned * 100)})
    assert large.endswith("fine-tuning fits the domain best")
    low, high = evaluate.interval(tuned * 100)
    assert low < evaluate.perplexity(tuned * 100) < high


def test_the_accuracy_interval_is_wilsons() -> None:
    assert evaluate.wilson(2, 7) == [0.082, 0.641]  # 2 of 7 right: anything from 8% to 64%
    assert evaluate.wilson(0, 0) is None
