"""Several reviewers, one decision: majority, ties, unanimity, discards, corrections; agreement figures."""

from __future__ import annotations

import pytest

from studio.review.consensus import (
    Answer,
    agreement,
    cohen_kappa,
    judge_agreement,
    krippendorff_alpha,
    resolve,
    spearman,
)


def accept(user: str, rating: int | None = None, correction: str | None = None, at: str = "t1") -> Answer:
    return Answer(user, "submitted", "accept", rating, correction, at)


def reject(user: str, rating: int | None = None, at: str = "t1") -> Answer:
    return Answer(user, "submitted", "reject", rating, None, at)


def discard(user: str) -> Answer:
    return Answer(user, "discarded", None)


def test_majority_wins_and_ties_follow_the_tie_rule() -> None:
    assert resolve([accept("a"), accept("b"), reject("c")]).decision == "accept"
    assert resolve([accept("a"), reject("b"), reject("c")]).decision == "reject"
    tied = resolve([accept("a"), reject("b")], tie="reject")
    assert (tied.decision, tied.tie) == ("reject", True)
    assert resolve([accept("a"), reject("b")], tie="accept").decision == "accept"
    assert resolve([accept("a"), accept("b")]).tie is False


def test_unanimous_needs_every_vote() -> None:
    assert resolve([accept("a"), accept("b"), reject("c")], rule="unanimous").decision == "reject"
    assert resolve([accept("a"), accept("b")], rule="unanimous").decision == "accept"


def test_a_discard_votes_reject_and_is_counted() -> None:
    verdict = resolve([accept("a"), discard("b"), discard("c")])
    assert verdict.decision == "reject"
    assert verdict.votes == {"accept": 1, "reject": 2, "discarded": 2}


def test_rating_is_the_mean_of_the_ratings_given() -> None:
    assert resolve([accept("a", 4), accept("b", 5), accept("c")]).rating == 4.5
    assert resolve([discard("a")]).rating is None


def test_correction_comes_from_accepting_reviewers_most_written_then_latest() -> None:
    same = resolve([accept("a", correction="fixed"), accept("b", correction="fixed"), accept("c", correction="other")])
    assert (same.correction, same.corrections_disagree) == ("fixed", True)
    latest = resolve([accept("a", correction="first", at="t1"), accept("b", correction="second", at="t2")])
    assert latest.correction == "second"
    # A rejected item takes no correction, even from a reviewer who wrote one.
    assert resolve([accept("a", correction="x"), reject("b"), reject("c")]).correction is None


def test_krippendorff_alpha_matches_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, some missing.
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[c[i] for c in coders if c[i] is not None] for i in range(12)]
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=1e-3)
    assert krippendorff_alpha([[1, 1], [1, 1]], "nominal") is None  # no variation: undefined


def test_agreement_per_question() -> None:
    records = [
        [accept("a", 4), accept("b", 5)],
        [accept("a", 2), reject("b", 2)],
        [reject("a", 1), reject("b", 1)],
        [accept("a", 3)],  # one reviewer: not pairable
    ]
    figures = agreement(records)
    assert figures["decision"]["records"] == 3
    assert figures["decision"]["pairwise"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["rating"]["pairwise"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["rating"]["within_one"] == 1.0
    assert figures["correction"]["records"] == 1  # only the first record has two accepting reviewers


def test_cohen_kappa_discounts_the_agreement_expected_by_chance() -> None:
    # 3 of 4 agree; by chance (0.5 * 0.25 + 0.5 * 0.75) half would: kappa (0.75 - 0.5) / 0.5.
    assert cohen_kappa([True, True, False, False], [True, False, False, False]) == 0.5
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    assert cohen_kappa([True, True, True], [True, False, True]) == 0.0  # a judge that passes everything tells nothing
    assert cohen_kappa([True, True], [True, True]) is None  # both constant: undefined
    assert cohen_kappa([], []) is None


def test_spearman_is_the_correlation_of_ranks_with_ties_sharing_their_mean_rank() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # Ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4]: 4.5 / sqrt(4.5 * 5).
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == round(4.5 / (4.5 * 5) ** 0.5, 4)
    assert spearman([1, 2], [1, 2]) is None and spearman([3, 3, 3], [1, 2, 3]) is None


def test_judge_agreement_counts_the_rejects_people_took_back() -> None:
    pairs = [(True, True, 4.0, 4), (True, False, 3.2, 2), (False, False, 1.5, 1), (False, True, 2.5, None)]
    figures = judge_agreement(pairs)
    assert figures == {
        "items": 4,
        "judge_rejected": 2,
        "overruled": 1,
        "agreement": 0.5,
        "kappa": 0.0,
        "rated": 3,
        "spearman": 1.0,
    }
