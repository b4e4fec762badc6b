"""Test items that are near copies of what the model saw: a training or validation item, a few-shot example
(drawn from train) or a seed example the generator was shown. Scoring on them measures memory, not
knowledge; they move from test to train, each with the item it copies and their similarity.

The measure is the Jaccard similarity of word 3-grams, exact for every pair (test sets are small: a few
hundred items against a few thousand).
"""

from __future__ import annotations

import re

WORD = re.compile(r"\w+")
N = 3


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    w = WORD.findall(text.lower())
    if len(w) < N:
        return frozenset([tuple(w)]) if w else frozenset()
    return frozenset(zip(*(w[i:] for i in range(N)), strict=False))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_copies(test: list[str], seen: list[tuple[str, str]], threshold: float) -> dict[int, tuple[str, float]]:
    """For each test text (by index) at `threshold` or more like a seen one: (what it copies, similarity).
    `seen` holds (a name for the source, its text)."""
    sources = [(name, shingles(text)) for name, text in seen]
    found: dict[int, tuple[str, float]] = {}
    for i, text in enumerate(test):
        mine = shingles(text)
        best = max(((name, jaccard(mine, theirs)) for name, theirs in sources), key=lambda x: x[1], default=None)
        if best and best[1] >= threshold:
            found[i] = (best[0], round(best[1], 3))
    return found
