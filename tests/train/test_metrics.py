"""BLEU, ROUGE-L and the classification scores, on cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from studio.train import metrics


def test_bleu_is_one_for_a_copy_and_zero_without_a_common_word() -> None:
    assert metrics.bleu(["the wood is grey ."], ["The wood is grey."]) == pytest.approx(1.0)
    assert metrics.bleu(["boats sail"], ["the wood is grey"]) == 0.0


def test_bleu_of_a_partial_match() -> None:
    # hypothesis "the wood is pale" against "the wood is grey": 1-grams 3/4, 2-grams 2/3, 3-grams 1/2,
    # 4-grams 0/1; add-one smoothing from 2-grams on: 3/4, 3/4, 2/3, 1/2; same length, no brevity penalty.
    expected = math.exp((math.log(3 / 4) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)) / 4)
    assert metrics.bleu(["the wood is pale"], ["the wood is grey"]) == pytest.approx(expected)
    # Half as long as the reference: brevity penalty exp(1 - 8/4).
    short = metrics.bleu(["the wood is grey"], ["the wood is grey and it floats well"])
    assert short == pytest.approx(math.exp(1 - 8 / 4) * 1.0)


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence() -> None:
    # LCS of "grey wood floats" and "the grey wood sinks and floats" is "grey wood floats": P 3/3, R 3/6.
    assert metrics.rouge_l(["grey wood floats"], ["the grey wood sinks and floats"]) == pytest.approx(2 / 3)
    assert metrics.rouge_l(["a", "b"], ["a", "c"]) == pytest.approx(0.5)


def test_classification_scores_and_confusion_matrix() -> None:
    truth = ["qa", "qa", "history", "history", "properties"]
    predicted = ["qa", "history", "history", "history", "qa"]
    scores = metrics.classification(truth, predicted, ["history", "properties", "qa"])
    assert scores["accuracy"] == 0.6
    assert scores["confusion_matrix"]["rows_truth_columns_predicted"] == [[2, 0, 0], [0, 0, 1], [1, 0, 1]]
    assert scores["per_label"]["history"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8}
    assert scores["per_label"]["qa"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert scores["per_label"]["properties"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert scores["f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3, abs=1e-4)
