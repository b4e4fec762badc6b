"""Dedup speed and quality on generated short items with planted near duplicates, beside plain datasketch.

    .venv/bin/python benchmarks/dedup.py [--items 100000] [--embed 2000] [--baseline-items N]

Items are two short sentences of made-up words (so unrelated items share nothing by chance). Some are
exact copies (case and punctuation changed) and some near copies of an earlier item: one word replaced,
dropped or added, or the two sentences swapped. Precision and recall are over the planted near copies:
a dropped item counts as right when the twin it names is its original or another copy of it.

The baseline is datasketch used the straightforward way, with the same shingles, permutations and
threshold: per item a MinHash (update_batch of its shingles), an LSH query, and an insert when nothing
matched. The embedding pass runs on the first --embed items and on as many English sentences (made-up
words cost the model two to three times the word pieces of English).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

import numpy as np
from validate import text as english_text

from studio.project import MinHashDedup, SemanticDedup
from studio.quality import exact, minhash, semantic
from studio.quality.dedup import Dedup, deduplicate

SYLLABLES = [c + v for c in "bdfgklmnprstvwz" for v in "aeiou"] + ["ar", "en", "il", "on", "us", "ey"]


def make_items(n: int, seed: int = 0) -> tuple[list[str], dict[int, int], dict[int, int]]:
    """Texts, and for each planted copy its original: exact copies and near copies."""
    rng = random.Random(seed)
    vocabulary = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(30000)})

    def sentence() -> str:
        words = rng.choices(vocabulary, k=rng.randint(7, 12))
        return " ".join(words).capitalize() + "."

    texts: list[str] = []
    exact_of: dict[int, int] = {}
    near_of: dict[int, int] = {}
    while len(texts) < n:
        i = len(texts)
        roll = rng.random()
        if i > 100 and roll < 0.02:
            original = rng.randrange(i)
            original = exact_of.get(original, near_of.get(original, original))
            exact_of[i] = original
            texts.append(texts[original].upper().replace(".", " !"))
        elif i > 100 and roll < 0.12:
            original = rng.randrange(i)
            original = exact_of.get(original, near_of.get(original, original))
            near_of[i] = original
            texts.append(near_copy(texts[original], rng, vocabulary))
        else:
            texts.append(f"{sentence()} {sentence()}")
    return texts, exact_of, near_of


def near_copy(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    first, second = text.split(". ", 1)
    kind = rng.choice(["replace", "drop", "add", "swap"])
    if kind == "swap":
        return f"{second.rstrip('.')}. {first}."
    words = text.split()
    k = rng.randrange(1, len(words) - 1)
    if kind == "replace":
        words[k] = rng.choice(vocabulary)
    elif kind == "drop":
        del words[k]
    else:
        words.insert(k, rng.choice(vocabulary))
    return " ".join(words)


def score(twin: dict[int, int], near_of: dict[int, int], exact_of: dict[int, int]) -> tuple[float, float]:
    """Precision and recall of the dropped items against the planted near copies."""
    group = {**{i: o for i, o in near_of.items()}, **{i: o for i, o in exact_of.items()}}

    def origin(i: int) -> int:
        return group.get(i, i)

    found = {i: t for i, t in twin.items() if i not in exact_of}  # near copies are what is scored
    right = sum(1 for i, t in found.items() if i in near_of and origin(t) == origin(i))
    precision = right / len(found) if found else 1.0
    recall = right / len(near_of) if near_of else 1.0
    return precision, recall


def shingle_strings(text: str, n: int) -> list[bytes]:
    t = minhash.match_text(text)
    return [t[i : i + n].encode() for i in range(max(len(t) - n + 1, 1))]


def baseline(texts: list[str], settings: MinHashDedup) -> tuple[dict[int, int], float]:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.permutations)
    twin = {}
    for i, text in enumerate(texts):
        m = MinHash(num_perm=settings.permutations, seed=settings.seed)
        m.update_batch(shingle_strings(text, settings.ngram))
        hits = lsh.query(m)
        if hits:
            twin[i] = min(hits)
        else:
            lsh.insert(i, m)
    return twin, time.perf_counter() - t0


def timed(texts: list[str], settings: Dedup) -> tuple[dict[int, int], float]:
    t0 = time.perf_counter()
    d = deduplicate(texts, np.arange(len(texts)), settings)
    seconds = time.perf_counter() - t0
    return {int(i): int(d.twin[i]) for i in np.flatnonzero(d.twin >= 0)}, seconds


def main() -> None:
    os.environ["STUDIO_CACHE"] = tempfile.mkdtemp()  # embeddings computed, not taken from the cache
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--embed", type=int, default=2000, help="items for the embedding pass")
    parser.add_argument("--baseline-items", type=int, help="items for the baseline (default: all)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    texts, exact_of, near_of = make_items(args.items)
    made = time.perf_counter() - t0
    mh = MinHashDedup()
    minhash.bands_for(mh.threshold, mh.permutations)  # datasketch's parameter search, once per process
    off = {"enabled": False}
    print(
        f"# {len(texts):,} items ({len(exact_of):,} exact copies, {len(near_of):,} near copies), made in {made:.1f} s"
    )
    print(
        f"# shingles: {mh.shingle} {mh.ngram}-grams, {mh.permutations} permutations, Jaccard threshold {mh.threshold}"
    )
    print(f"# machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    rows = []

    t0 = time.perf_counter()
    exact.exact_twins(texts, np.arange(len(texts)))
    rows.append(("exact (normalised text)", len(texts), time.perf_counter() - t0, None))

    twin, seconds = timed(texts, Dedup(exact=False, semantic=off))
    rows.append(("MinHash LSH, studio", len(texts), seconds, score(twin, near_of, exact_of)))
    ours = seconds

    n_base = args.baseline_items or len(texts)
    twin, seconds = baseline(texts[:n_base], mh)
    rows.append(("MinHash LSH, plain datasketch", n_base, seconds, score(twin, _upto(near_of, n_base), exact_of)))
    base_rate = n_base / seconds

    semantic.model()  # loading is not embedding
    only_semantic = Dedup(exact=False, minhash=off, semantic=SemanticDedup())
    sub = texts[: args.embed]
    twin, seconds = timed(sub, only_semantic)
    rows.append(("embeddings (all-MiniLM-L6-v2), these items", len(sub), seconds, None))
    rng = random.Random(1)
    english = [english_text(rng) for _ in range(args.embed)]
    twin, seconds = timed(english, only_semantic)
    rows.append(("embeddings, English penguin-wood sentences", len(english), seconds, None))

    print("\n| method | items | seconds | items/s | precision | recall |\n|---|---:|---:|---:|---:|---:|")
    for name, n, s, pr in rows:
        p, r = (f"{pr[0]:.3f}", f"{pr[1]:.3f}") if pr else ("", "")
        print(f"| {name} | {n:,} | {s:.2f} | {n / s:,.0f} | {p} | {r} |")
    print(f"\nstudio MinHash is {len(texts) / ours / base_rate:.1f}x the items/s of plain datasketch in this run")
    sys.stdout.flush()


def _upto(planted: dict[int, int], n: int) -> dict[int, int]:
    return {i: o for i, o in planted.items() if i < n}


if __name__ == "__main__":
    main()
