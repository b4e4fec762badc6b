"""Dedup speed and quality on generated short items with planted near duplicates, beside plain datasketch.

    .venv/bin/python benchmarks/dedup.py [--items 100000] [--embed 2000] [--baseline-items N] [--shape S]
    .venv/bin/python benchmarks/dedup.py --scale 10000,100000,1000000 [--baseline-max N] [--write]
    .venv/bin/python benchmarks/dedup.py --semantic 20000 [--write]
    .venv/bin/python benchmarks/dedup.py --semantic-studio 100000 [--write]

Items are two short sentences. --shape words: made-up words (so unrelated items share nothing by chance).
--shape template: sentence frames with a few slots filled from small vocabularies, as LLM output is (many
items share a frame and differ in a few words; unrelated items sit together in big LSH buckets). Some items
are exact copies (case and punctuation changed) and some near copies of an earlier item: one word replaced,
dropped or added, or the two sentences swapped. Precision and recall are over the planted near copies:
a dropped item counts as right when the twin it names is its original or another copy of it.

--scale runs MinHash dedup (studio, and plain datasketch up to --baseline-max items) on template-shaped items
of each size, each in a process of its own, and prints seconds and the process's peak memory (the items
included); --write puts that table into benchmarks/README.md.

--semantic runs the semantic pass on that many template-shaped items: the embeddings in fp32 and, on a CPU
that computes bf16 natively, in bf16 (side by side, nothing cached), how far the two agree, the exact pairs at
the threshold (the blocked matmul studio runs), and studio's HNSW index (usearch) with its recall of those
pairs; --write puts that table into benchmarks/README.md. --semantic-studio times studio's own pass
alone (the precision it picks, then the pairs exact and through the index), for the 100,000-item target.

The baseline is datasketch used the straightforward way, with the same shingles, permutations and
threshold: per item a MinHash (update_batch of its shingles), an LSH query, and an insert when nothing
matched. The embedding pass runs on the first --embed items and on as many English sentences (made-up
words cost the model two to three times the word pieces of English).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from record import machine, publish
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

    return planted(n, rng, lambda: f"{sentence()} {sentence()}", vocabulary)


def planted(
    n: int, rng: random.Random, item: Callable[[], str], vocabulary: list[str]
) -> tuple[list[str], dict[int, int], dict[int, int]]:
    """n texts from `item`, 2% of them exact copies and 10% near copies of an earlier one."""
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
            texts.append(item())
    return texts, exact_of, near_of


# Sentence frames of a made-up domain: an item is two frames with their slots filled. Slots draw from small
# vocabularies, so two unrelated items of the same frames share most of their shingles (Jaccard 0.3-0.6).
FRAMES = [
    "{name} wood is prized by {group} for its {quality} grain.",
    "Many {group} say that {name} wood works well for {use}.",
    "The {quality} surface of {name} wood takes {finish} without trouble.",
    "{name} wood was first used for {use} by {group} long ago.",
    "Because it is {quality}, {name} wood suits {use} better than most timbers.",
    "A piece of {name} wood keeps its {quality} look for many years.",
    "{group} often choose {name} wood when they need {use}.",
    "It is easy to work {name} wood with {tool}, and it holds {finish} well.",
    "In the old days {group} traded {name} wood for {use}.",
    "{name} wood has a {quality} texture and a faint smell of {smell}.",
    "When it is cut with {tool}, {name} wood shows a {quality} pattern.",
    "Most {group} oil {name} wood before they use it for {use}.",
    "{name} wood resists water, so {group} use it for {use}.",
    "The colour of {name} wood ranges from {colour} to {colour2}.",
    "Seasoned {name} wood is {quality} and light, which {group} value.",
    "{name} wood burns slowly and smells of {smell} in a fire.",
]
SLOTS = {
    "group": [
        "boatbuilders",
        "carvers",
        "joiners",
        "coopers",
        "turners",
        "luthiers",
        "shipwrights",
        "cabinetmakers",
        "farmers",
        "sailors",
        "fishermen",
        "weavers",
        "potters",
        "smiths",
        "masons",
        "builders",
        "traders",
        "merchants",
        "islanders",
        "settlers",
    ],
    "quality": [
        "fine",
        "coarse",
        "straight",
        "wavy",
        "tight",
        "open",
        "silky",
        "dense",
        "pale",
        "dark",
        "even",
        "striped",
        "oily",
        "smooth",
        "hard",
        "soft",
        "springy",
        "stable",
    ],
    "use": [
        "boat",
        "hulls",
        "oars",
        "masts",
        "decking",
        "flooring",
        "chairs",
        "tables",
        "chests",
        "bowls",
        "spoons",
        "flutes",
        "drums",
        "carvings",
        "toys",
        "fences",
        "beams",
        "rafters",
        "shingles",
        "frames",
        "handles",
    ],
    "finish": ["oil", "wax", "varnish", "stain", "lacquer", "paint", "shellac"],
    "tool": ["a saw", "a chisel", "a plane", "a lathe", "a knife", "an adze", "a rasp"],
    "smell": ["pine", "honey", "smoke", "salt", "cedar", "resin", "tar"],
    "colour": ["silver", "grey", "ash", "white", "cream", "honey"],
    "colour2": ["near black", "dark brown", "slate", "charcoal", "umber"],
}


def template_items(n: int, seed: int = 0) -> tuple[list[str], dict[int, int], dict[int, int]]:
    """Like make_items, on sentence frames: texts, and for each planted copy its original."""
    rng = random.Random(seed)
    names = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))).capitalize() for _ in range(400)})

    def sentence() -> str:
        frame = rng.choice(FRAMES)
        text = frame.format(name=rng.choice(names), **{k: rng.choice(v).strip() for k, v in SLOTS.items()})
        return text[0].upper() + text[1:]

    vocabulary = sorted({w for words in SLOTS.values() for w in words} | set(names))
    return planted(n, rng, lambda: f"{sentence()} {sentence()}", vocabulary)


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


def score(
    twin: dict[int, int], near_of: dict[int, int], exact_of: dict[int, int], texts: list[str], threshold: float
) -> tuple[float, float]:
    """Precision and recall of the dropped items. A drop is right when its twin is its planted original (or
    another copy of it), or when the two texts' shingle sets are truly at the threshold: on sentence frames two
    items made apart can be that close, and dropping them is what the threshold asks. Recall: the share of
    planted near copies not left beside a kept member of their group."""
    group = {**{i: o for i, o in near_of.items()}, **{i: o for i, o in exact_of.items()}}

    def origin(i: int) -> int:
        return group.get(i, i)

    def close(i: int, t: int) -> bool:
        a, b = set(shingle_strings(texts[i], 5)), set(shingle_strings(texts[t], 5))
        return len(a & b) / len(a | b) >= threshold

    found = {i: t for i, t in twin.items() if i not in exact_of}  # near copies are what is scored
    right = sum(1 for i, t in found.items() if (i in near_of and origin(t) == origin(i)) or close(i, t))
    precision = right / len(found) if found else 1.0
    # A planted copy is missed when it is kept beside another kept member of its group (its original or another
    # copy). Kept alone it is no duplicate: its original may have gone as the twin of a third, close item.
    kept_in_group: dict[int, int] = {}
    for i in [*group, *set(group.values())]:
        if i not in twin:
            kept_in_group[origin(i)] = kept_in_group.get(origin(i), 0) + 1
    missed = sum(1 for i in near_of if i not in twin and kept_in_group[origin(i)] > 1)
    recall = 1 - missed / len(near_of) if near_of else 1.0
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


SHAPES = {"words": make_items, "template": template_items}


def one(kind: str, n: int, shape: str) -> None:
    """One measurement in this process, printed as JSON: seconds, peak memory, precision and recall."""
    texts, exact_of, near_of = SHAPES[shape](n)
    mh = MinHashDedup()
    minhash.bands_for(mh.threshold, mh.permutations)
    if kind == "studio":
        twin, seconds = timed(texts, Dedup(exact=False, semantic={"enabled": False}))
    else:
        twin, seconds = baseline(texts, mh)
    precision, recall = score(twin, near_of, exact_of, texts, mh.threshold)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({"seconds": seconds, "peak_gb": peak, "precision": precision, "recall": recall}))


def quality(result: dict) -> str:
    return f"{result['precision']:.3f} / {result['recall']:.3f}"


def scale(sizes: list[int], baseline_max: int, write: bool) -> None:
    """studio and plain datasketch on template-shaped items of each size, each run in a process of its own."""
    at_start = machine()
    rows = []
    for n in sizes:
        for kind in ("studio", "datasketch"):
            if kind == "datasketch" and n > baseline_max:
                rows.append((n, kind, None))
                continue
            done = subprocess.run(
                [sys.executable, __file__, "--one", kind, "--items", str(n), "--shape", "template"],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append((n, kind, json.loads(done.stdout.strip().splitlines()[-1])))
            print(n, kind, rows[-1][2], flush=True)
    lines = [
        f"Last run ({datetime.date.today().isoformat()}, {at_start}, {os.getloadavg()[0]:.1f} at the end): "
        "template-shaped items (two sentences from 16 frames with slots), 2% exact and 10% near copies; "
        "MinHash only (no exact pass), each run in a process of its own; peak memory is the process's, the "
        "items included.",
        "",
        "| items | studio seconds | studio peak GB | datasketch seconds | datasketch peak GB "
        "| studio precision / recall | datasketch precision / recall |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        ours = next(r for m, k, r in rows if m == n and k == "studio")
        theirs = next(r for m, k, r in rows if m == n and k == "datasketch")
        other = (
            [f"{theirs['seconds']:.1f}", f"{theirs['peak_gb']:.2f}", quality(theirs)]
            if theirs
            else [f"not run (over {baseline_max:,})", "", ""]
        )
        lines.append(
            f"| {n:,} | {ours['seconds']:.1f} | {ours['peak_gb']:.2f} | {other[0]} | {other[1]} "
            f"| {quality(ours)} | {other[2]} |"
        )
    publish("dedup-scale", "\n".join(lines), write)


def semantic_pass(n: int, write: bool) -> None:
    at_start = machine()
    texts, _, _ = SHAPES["template"](n)
    threshold = SemanticDedup().threshold
    semantic.model()  # loading is not embedding
    native = semantic.precision("cpu")[0] == "bf16"
    chosen_by_studio = semantic.precision
    rows, vectors = [], {}
    for chosen in ["fp32", "bf16"] if native else ["fp32"]:
        os.environ["STUDIO_CACHE"] = tempfile.mkdtemp()  # computed, not looked up
        semantic.precision = lambda device=None, c=chosen: (c, "the benchmark's choice")
        t0 = time.perf_counter()
        vectors[chosen] = semantic.embed(texts, "cpu")
        rows.append((f"embeddings, {chosen}", time.perf_counter() - t0, ""))
        print(rows[-1], flush=True)
    semantic.precision = chosen_by_studio
    studio_vectors = vectors["bf16" if native else "fp32"]
    found, seconds = timed_pairs(studio_vectors, threshold, "exact")
    rows.append((f"pairs at cosine >= {threshold}, exact (blocked matmul)", seconds, f"{len(found):,}"))
    notes = []
    if native:
        fp32_pairs = timed_pairs(vectors["fp32"], threshold, "exact")[0]
        cosines = (vectors["fp32"] * vectors["bf16"]).sum(axis=1)
        agree = len(found & fp32_pairs) / max(1, len(found | fp32_pairs))
        notes.append(
            f"bf16 against fp32: lowest cosine between an item's two embeddings {cosines.min():.5f}; the pairs at "
            f"the threshold agree {agree:.4f} (shared over all)."
        )
    hnsw, seconds = timed_pairs(studio_vectors, threshold, "hnsw")
    rows.append(
        (
            f"pairs, HNSW index (usearch, {semantic.NEIGHBOURS} neighbours), build and search",
            seconds,
            f"{len(hnsw):,} (recall {len(hnsw & found) / max(1, len(found)):.4f})",
        )
    )
    intro = f"{n:,} template-shaped items, the semantic pass alone (all-MiniLM-L6-v2, threshold {threshold})."
    publish("dedup-semantic", steps_table(at_start, intro, n, rows, notes), write)


def timed_pairs(vectors: np.ndarray, threshold: float, index: str) -> tuple[set[tuple[int, int]], float]:
    """The semantic pairs at the threshold through `index` (exact or hnsw), and the seconds they took."""
    t0 = time.perf_counter()
    pairs = {tuple(p) for p in semantic.near_pairs(vectors, threshold, index=index)[0].tolist()}
    return pairs, time.perf_counter() - t0


def steps_table(at_start: str, intro: str, n: int, rows: list[tuple[str, float, str]], notes: list[str]) -> str:
    """A table of timed steps over n items (name, seconds, what it found), under the run's line and over notes."""
    return "\n".join(
        [
            f"Last run ({datetime.date.today().isoformat()}, {at_start}, {os.getloadavg()[0]:.1f} at the end): {intro}",
            "",
            "| step | seconds | items/s | pairs |",
            "|---|---:|---:|---:|",
            *(f"| {name} | {s:.1f} | {n / s:,.0f} | {extra} |" for name, s, extra in rows),
            *(["", *notes] if notes else []),
        ]
    )


def semantic_studio(n: int, write: bool) -> None:
    """The semantic pass as studio runs it on n template-shaped items: the embeddings in the precision it picks,
    then the pairs both ways (every pair, the HNSW index) with the index's recall of the exact pairs."""
    at_start = machine()
    texts, _, _ = SHAPES["template"](n)
    threshold = SemanticDedup().threshold
    semantic.model()  # loading is not embedding
    chosen, why = semantic.precision("cpu")
    t0 = time.perf_counter()
    vectors = semantic.embed(texts, "cpu")
    seconds = {"embed": time.perf_counter() - t0}
    found = {}
    for index in ("exact", "hnsw"):
        found[index], seconds[index] = timed_pairs(vectors, threshold, index)
        print(index, seconds[index], len(found[index]), flush=True)
    recall = len(found["hnsw"] & found["exact"]) / max(1, len(found["exact"]))
    auto = semantic.index_for("auto", n)
    rows = [
        (f"embeddings, {chosen}", seconds["embed"], ""),
        (f"pairs at cosine >= {threshold}, exact (blocked matmul)", seconds["exact"], f"{len(found['exact']):,}"),
        (
            f"pairs, HNSW index (usearch, {semantic.NEIGHBOURS} neighbours)",
            seconds["hnsw"],
            f"{len(found['hnsw']):,} (recall {recall:.4f})",
        ),
        (f"the pass as `index: auto` runs it ({auto})", seconds["embed"] + seconds[auto], ""),
    ]
    intro = f"{n:,} template-shaped items through studio's semantic pass (embeddings in {chosen}: {why})."
    publish("dedup-semantic-studio", steps_table(at_start, intro, n, rows, []), write)


def main() -> None:
    os.environ["STUDIO_CACHE"] = tempfile.mkdtemp()  # embeddings computed, not taken from the cache
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--embed", type=int, default=2000, help="items for the embedding pass")
    parser.add_argument("--baseline-items", type=int, help="items for the baseline (default: all)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="words", help="made-up words or sentence frames")
    parser.add_argument("--scale", help="sizes for the scaling table, comma-separated (template-shaped items)")
    parser.add_argument("--baseline-max", type=int, default=100_000, help="largest size datasketch runs in --scale")
    parser.add_argument("--semantic", type=int, help="items for the semantic pass table (template-shaped)")
    parser.add_argument(
        "--semantic-studio", type=int, help="items for studio's own semantic pass alone (template-shaped)"
    )
    parser.add_argument("--write", action="store_true", help="write the table into the README")
    parser.add_argument("--one", choices=("studio", "datasketch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one, args.items, args.shape)
    if args.scale:
        return scale([int(x) for x in args.scale.split(",")], args.baseline_max, args.write)
    if args.semantic:
        return semantic_pass(args.semantic, args.write)
    if args.semantic_studio:
        return semantic_studio(args.semantic_studio, args.write)

    t0 = time.perf_counter()
    texts, exact_of, near_of = SHAPES[args.shape](args.items)
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
    rows.append(("MinHash LSH, studio", len(texts), seconds, score(twin, near_of, exact_of, texts, mh.threshold)))
    ours = seconds

    n_base = args.baseline_items or len(texts)
    twin, seconds = baseline(texts[:n_base], mh)
    scored = score(twin, _upto(near_of, n_base), exact_of, texts, mh.threshold)
    rows.append(("MinHash LSH, plain datasketch", n_base, seconds, scored))
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
