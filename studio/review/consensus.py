"""Several reviewers, one decision per record; and how far reviewers agree, per question.

A submitted answer votes accept or reject (its decision question); a discarded one votes reject (the
reviewer would not vouch for the item). Drafts do not count. `majority`: the side with more votes wins
and a tie is decided by the `tie` setting and reported; `unanimous`: accepted only if every vote accepts.
The rating is the mean of the ratings given. A correction comes from the reviewers who accepted: the
one most of them wrote (the latest among equals; disagreeing corrections are reported).

Agreement uses the records that two or more reviewers answered: the share of reviewer pairs that agree,
and Krippendorff's alpha (nominal for the decision and correction, interval for the rating), which
discounts the agreement expected by chance and allows any number of reviewers per record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

ACCEPT, REJECT = "accept", "reject"


@dataclass
class Answer:
    user: str
    status: Literal["submitted", "discarded"]
    decision: str | None  # accept or reject; None for a discard
    rating: int | None = None
    correction: str | None = None  # stripped; None when empty
    answered_at: str | None = None

    @property
    def vote(self) -> str:
        return ACCEPT if self.status == "submitted" and self.decision == ACCEPT else REJECT


@dataclass
class Verdict:
    decision: str  # accept or reject
    votes: dict[str, int]
    tie: bool = False
    rating: float | None = None
    correction: str | None = None
    corrections_disagree: bool = False
    reviewers: list[dict[str, Any]] = field(default_factory=list)


def resolve(answers: list[Answer], rule: str = "majority", tie: str = REJECT) -> Verdict:
    """One decision from one or more answers (the caller keeps records without answers apart)."""
    if not answers:
        raise ValueError("resolve() needs at least one answer")
    votes = Counter(a.vote for a in answers)
    accepts, rejects = votes[ACCEPT], votes[REJECT]
    is_tie = False
    if rule == "unanimous":
        decision = ACCEPT if rejects == 0 else REJECT
    elif accepts != rejects:
        decision = ACCEPT if accepts > rejects else REJECT
    else:
        decision, is_tie = tie, True
    ratings = [a.rating for a in answers if a.rating is not None]
    correction, disagree = (
        _correction([a for a in answers if a.vote == ACCEPT]) if decision == ACCEPT else (None, False)
    )
    return Verdict(
        decision=decision,
        votes={ACCEPT: accepts, REJECT: rejects, "discarded": sum(a.status == "discarded" for a in answers)},
        tie=is_tie,
        rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        correction=correction,
        corrections_disagree=disagree,
        reviewers=[
            {
                "user": a.user,
                "status": a.status,
                "decision": a.decision,
                "rating": a.rating,
                "correction": a.correction,
                "answered_at": a.answered_at,
            }
            for a in answers
        ],
    )


def _correction(accepting: list[Answer]) -> tuple[str | None, bool]:
    written = [a for a in accepting if a.correction]
    if not written:
        return None, False
    counts = Counter(a.correction for a in written)
    best = max(counts.values())
    leaders = {text for text, n in counts.items() if n == best}
    latest = max((a for a in written if a.correction in leaders), key=lambda a: a.answered_at or "")
    return latest.correction, len(counts) > 1


# Agreement.
def agreement(records: list[list[Answer]]) -> dict[str, dict[str, Any]]:
    """Per question: records with two or more answers, the pairwise agreement and Krippendorff's alpha."""
    decisions = [[a.vote for a in answers] for answers in records]
    ratings = [[a.rating for a in answers if a.rating is not None] for answers in records]
    # A correction is compared among those who accepted: no correction is a value too ("fine as it is").
    corrections = [[a.correction or "" for a in answers if a.vote == ACCEPT] for answers in records]
    out = {
        "decision": _figures(decisions, "nominal"),
        "rating": _figures(ratings, "interval"),
        "correction": _figures(corrections, "nominal"),
    }
    out["rating"]["within_one"] = _pairwise([u for u in ratings if len(u) > 1], lambda a, b: abs(a - b) <= 1)
    return out


def _figures(units: list[list[Any]], kind: str) -> dict[str, Any]:
    pairable = [u for u in units if len(u) > 1]
    return {
        "records": len(pairable),
        "pairwise": _pairwise(pairable, lambda a, b: a == b),
        "alpha": krippendorff_alpha(pairable, kind),
    }


def _pairwise(units: list[list[Any]], same: Callable[[Any, Any], bool]) -> float | None:
    pairs = [same(a, b) for u in units for a, b in combinations(u, 2)]
    return round(sum(pairs) / len(pairs), 4) if pairs else None


def krippendorff_alpha(units: list[list[Any]], kind: str = "nominal") -> float | None:
    """1 - observed / expected disagreement, for `nominal` or `interval` values; None when undefined (no
    pairs, or every value the same, so that no disagreement could be expected)."""
    units = [u for u in units if len(u) > 1]
    values = [v for u in units for v in u]
    n = len(values)
    if n < 2:
        return None

    def distance(a: Any, b: Any) -> float:
        return float(a != b) if kind == "nominal" else float(a - b) ** 2

    observed = sum(distance(a, b) * 2 / (len(u) - 1) for u in units for a, b in combinations(u, 2)) / n
    # The sum of distances over all pairs of values, in closed form (no n^2 loop).
    if kind == "nominal":
        all_pairs = (n * n - sum(c * c for c in Counter(values).values())) / 2
    else:
        all_pairs = n * sum(v * v for v in values) - sum(values) ** 2
    expected = 2 * all_pairs / (n * (n - 1))
    if expected == 0:
        return None
    return round(1 - observed / expected, 4)


# The LLM judge against the reviewers.
def judge_agreement(pairs: list[tuple[bool, bool, float, float | None]]) -> dict[str, Any]:
    """How far the judge agrees with the reviewers' decisions, from (judge passed, reviewers accepted, judge's
    mean score, reviewers' rating) per reviewed item: Cohen's kappa on accept/reject and Spearman's rank
    correlation of the score with the rating. None where undefined (too few items, or one side constant)."""
    judge = [p[0] for p in pairs]
    people = [p[1] for p in pairs]
    rated = [(p[2], p[3]) for p in pairs if p[3] is not None]
    return {
        "items": len(pairs),
        "judge_rejected": judge.count(False),
        "overruled": sum(1 for j, h in zip(judge, people, strict=True) if not j and h),
        "agreement": round(sum(j == h for j, h in zip(judge, people, strict=True)) / len(pairs), 4) if pairs else None,
        "kappa": cohen_kappa(judge, people),
        "rated": len(rated),
        "spearman": spearman([a for a, _ in rated], [b for _, b in rated]),  # type: ignore[misc]
    }


def cohen_kappa(a: list[Any], b: list[Any]) -> float | None:
    """Agreement of two raters beyond what their own rates would give by chance."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return None if expected == 1 else round((observed - expected) / (1 - expected), 4)


def spearman(a: list[float], b: list[float]) -> float | None:
    """Pearson's correlation of the ranks (ties share their mean rank)."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va, vb = sum((x - ma) ** 2 for x in ra), sum((y - mb) ** 2 for y in rb)
    return None if va == 0 or vb == 0 else round(cov / (va * vb) ** 0.5, 4)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
