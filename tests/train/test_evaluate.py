"""Scoring generations: the share valid against the domain schema, BLEU/ROUGE only where a reference is, and the
LLM judge's mean (tests/openai_server.py as the judge)."""

from __future__ import annotations

import json

import pytest

from studio.schema import DomainSchema
from studio.target import Target
from studio.train import evaluate, model
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


def test_models_are_told_apart_on_the_same_test_items_or_the_verdict_says_the_split_is_too_small() -> None:
    # Per item (summed loss, tokens). Items differ in difficulty far more than the models differ.
    few = [(loss * 10, 10) for loss in (2.0, 2.6, 1.4, 2.2, 1.8, 2.9, 1.2, 2.4)]
    base = [(3.0 * 10, 10)] * len(few)
    better_on_every_item = [(loss - 1.0, n) for loss, n in few]  # 0.1 nats a token lower, each item
    mixed = [(loss + (-3.0 if i % 2 else 2.0), n) for i, (loss, n) in enumerate(few)]  # better on half, worse on half

    def compare(tuned: list[tuple[float, int]]) -> dict:
        per_item = {"base": base, "base_few_shot": few, "tuned": tuned}
        return evaluate.compare("held-out perplexity", per_item, evaluate.perplexity_of, shots=1)

    # Apart, the two models' intervals overlap widely; on the same items the tuned one wins every time.
    low, high = evaluate.interval(better_on_every_item)
    assert evaluate.interval(few)[0] < high and low < evaluate.perplexity(better_on_every_item) < high
    told = compare(better_on_every_item)
    assert told["comparison"]["best"] == "tuned" and told["comparison"]["next"] == "base_few_shot"
    assert told["comparison"]["told_apart"] and told["comparison"]["ci95"][1] < 0
    assert "fine-tuning fits the domain best, told apart from few-shot prompting" in told["verdict"]
    assert told["comparison"]["difference"] == round(
        evaluate.perplexity_of(better_on_every_item) - evaluate.perplexity_of(few), 3
    )

    untold = compare(mixed)
    assert untold["comparison"]["best"] == "tuned" and not untold["comparison"]["told_apart"]
    low, high = untold["comparison"]["ci95"]
    assert low < 0 < high
    assert (
        "fine-tuning fits the domain best, but the test split is too small to tell it from few-shot"
        in untold["verdict"]
    )
    assert "raise train.splits.test" in untold["verdict"]


def test_the_accuracy_interval_is_wilsons() -> None:
    assert evaluate.wilson(2, 7) == [0.082, 0.641]  # 2 of 7 right: anything from 8% to 64%
    assert evaluate.wilson(0, 0) is None


# The chat task pads as the text task does (the random tiny model answers a chat turn with special tokens only).
@pytest.mark.parametrize("task", ["text", "seq2seq"])
def test_answers_generated_in_one_batch_are_the_answers_generated_one_at_a_time(task: str, tiny_llama, tiny_t5) -> None:
    # Prompts of different lengths, so the batch is padded (on the left for a decoder, the right for an encoder).
    folder = str(tiny_t5 if task == "seq2seq" else tiny_llama)
    net, tokenizer = model.load_model(folder, task), model.load_tokenizer(folder)
    long = "Penguin wood is a pale silver-grey timber from the isles, dense and slow to rot, " * 4
    question = "What colour is penguin wood when it is freshly cut?"
    prompts = ["Penguin wood", question, long + question, "Where does it grow?"]
    shots = [{"prompt": "What is it?", "text": "A pale timber."}]
    together = evaluate.generate(net, tokenizer, task, prompts, shots, 12)
    alone = [evaluate.generate(net, tokenizer, task, [p], shots, 12)[0] for p in prompts]
    assert together == alone and len(set(together)) > 1
