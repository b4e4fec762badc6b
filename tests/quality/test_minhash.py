"""MinHash: signatures that estimate Jaccard similarity, LSH candidates, exact similarities."""

from __future__ import annotations

import numpy as np

from studio.project import MinHashDedup
from studio.quality.minhash import candidate_pairs, jaccard, near_pairs, shingle, signatures
from studio.quality.text import match_text
from tests.quality.conftest import DISTINCT, planted


def exact_jaccard(a: str, b: str, n: int = 5) -> float:
    def grams(t: str) -> set[str]:
        t = match_text(t)
        return {t[i : i + n] for i in range(max(len(t) - n + 1, 1))}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def test_shingles_are_the_character_ngrams_of_each_text() -> None:
    texts = ["Penguin wood, pale.", "", "ab", DISTINCT[0]]
    sh = shingle(texts, "char", 5)
    assert [len(sh.of(i)) for i in range(4)] == [len("penguin wood pale") - 4, 0, 1, len(match_text(DISTINCT[0])) - 4]
    # Hashes are of content, not position: the same text gives the same shingles anywhere in the batch.
    again = shingle([DISTINCT[0]], "char", 5)
    assert set(again.of(0).tolist()) == set(sh.of(3).tolist())


def test_jaccard_is_exact_and_signatures_estimate_it() -> None:
    records, twins = planted()
    texts = [r["data"]["text"] for r in records]
    ids = [r["id"] for r in records]
    pairs = np.array([[ids.index(twin), ids.index(copy)] for copy, twin in twins.items()])
    sh = shingle(texts, "char", 5)
    sims = jaccard(sh, pairs)
    assert np.allclose(sims, [exact_jaccard(texts[i], texts[j]) for i, j in pairs])
    sig = signatures(sh, 256, seed=3)
    estimates = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1)
    assert np.abs(estimates - sims).max() < 0.12  # 4 standard deviations at 256 permutations


def test_jaccard_counts_each_shingle_once_and_an_empty_text_matches_nothing() -> None:
    # A loop ("wood wood wood ...") repeats its shingles: the similarity is of the sets, not of the counts.
    texts = ["wood " * 12, "wood " * 3 + "grain", "", "pale silver-grey penguin wood"]
    pairs = np.array([[0, 1], [1, 0], [0, 2], [2, 2], [3, 0]])
    sims = jaccard(shingle(texts, "char", 5), pairs)
    assert np.allclose(sims[[0, 1, 4]], [exact_jaccard(texts[0], texts[1])] * 2 + [exact_jaccard(texts[3], texts[0])])
    assert sims[2] == 0 and sims[3] == 0


def test_near_pairs_finds_planted_pairs_and_leaves_unrelated_ones() -> None:
    records, twins = planted()
    texts = [r["data"]["text"] for r in records]
    ids = [r["id"] for r in records]
    pairs, sims = near_pairs(texts, MinHashDedup(), np.arange(len(texts)))
    found = {(ids[i], ids[j]) for i, j in pairs}
    # Every planted copy is found with its original; copies of one original also match one another.
    assert {(twin, copy) for copy, twin in twins.items()} <= found
    assert all(ids[i][-1] == ids[j][-1] for i, j in pairs)  # never two different originals
    assert (sims >= 0.7).all()


def test_word_shingles_work_too() -> None:
    texts = [DISTINCT[1], DISTINCT[1].replace("strong", "sturdy"), DISTINCT[2]]
    pairs, sims = near_pairs(texts, MinHashDedup(shingle="word", ngram=2, threshold=0.6), np.arange(3))
    assert pairs.tolist() == [[0, 1]] and sims[0] >= 0.6


def test_a_big_bucket_still_meets_its_first_members() -> None:
    # 300 identical signatures in one bucket: each text is paired with its neighbours and the first ones.
    sig = np.ones((300, 8), dtype=np.uint32)
    pairs = candidate_pairs(sig, bands=2, rows=4, rank=np.arange(300))
    partners = {j for i, j in pairs.tolist() if i == 0}
    assert partners == set(range(1, 300))
    assert len(pairs) < 300 * 299 / 2  # bounded, not every pair
    assert (pairs[:, 0] < pairs[:, 1]).all()  # the earlier-ranked member first


def test_template_shaped_text_finds_its_near_copies_with_bounded_work() -> None:
    # LLM output shares sentence frames: 3,000 texts from 4 frames with a few slot words fill big LSH buckets
    # with texts that are alike but no copies. Each planted near copy (one word changed) is still found, and
    # the candidates per text are bounded, whatever the buckets' size.
    from studio.quality.minhash import FIRST, WINDOW, bands_for

    rng = np.random.default_rng(0)
    frames = [
        "{} wood is prized by {} for its {} grain and its {} colour.",
        "Many {} say that {} wood works well for {} and for {}.",
        "The {} surface of {} wood takes {} and {} without trouble.",
        "In the old days {} traded {} wood for {} and {}.",
    ]
    words = [f"w{i}" for i in range(12)]
    texts = [
        frames[rng.integers(4)].format(*rng.choice(words, 4))
        + " "
        + frames[rng.integers(4)].format(*rng.choice(words, 4))
        for _ in range(3000)
    ]
    planted = {}
    for _ in range(60):
        original = int(rng.integers(len(texts)))
        copy = texts[original].split()
        copy[int(rng.integers(1, len(copy) - 1))] = "changed"
        if exact_jaccard(texts[original], " ".join(copy)) >= 0.7:
            planted[len(texts)] = original
            texts.append(" ".join(copy))
    settings = MinHashDedup()
    pairs, sims = near_pairs(texts, settings, np.arange(len(texts)))
    found = set(map(tuple, pairs.tolist()))
    assert len(planted) > 30 and all((o, c) in found or (c, o) in found for c, o in planted.items())
    exact = [exact_jaccard(texts[i], texts[j]) for i, j in pairs[:50]]
    assert np.allclose(sims[:50], exact)  # what is reported is the true similarity, not an estimate
    bands, rows = bands_for(settings.threshold, settings.permutations)
    sig = signatures(shingle(texts, "char", 5), settings.permutations, settings.seed)
    candidates = candidate_pairs(sig, bands, rows, np.arange(len(texts)))
    assert len(candidates) <= len(texts) * (WINDOW + FIRST) * bands
