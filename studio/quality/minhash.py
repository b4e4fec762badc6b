"""Near duplicates: MinHash signatures, LSH banding, and the exact Jaccard similarity of each candidate pair.

The usual way (datasketch's `MinHash.update` per shingle, `MinHashLSH.insert` and `query` per item) spends its
time in Python calls. Here every step runs on whole arrays: the shingles of all texts are hashed at once
(a rolling hash over code points or word hashes), the permutations are applied to a block of shingles at a
time, and the bands are grouped by sorting. datasketch chooses the number of bands and rows, the same choice
its MinHashLSH makes for a threshold. Candidates are then estimated twice (the signature, then more
permutations for the texts still in a pair) and checked on the shingle sets themselves, all pairs of a chunk
in one sort, so a reported similarity is the true Jaccard similarity, never an estimate.

The permutations are h -> a*h + b (mod 2^32) with odd a over well-mixed 32-bit shingle hashes: bijections,
4x cheaper than datasketch's mod-prime form, with the same estimate error (sd of J(1-J)/P, measured).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from studio.project import MinHashDedup
from studio.quality.text import match_text

U64 = np.uint64
BASE = U64(0x100000001B3)  # multiplier of the rolling hash (FNV-64 prime)
MIX1, MIX2 = U64(0xFF51AFD7ED558CCD), U64(0xC4CEB9FE1A85EC53)  # murmur3's 64-bit finaliser
BLOCK = 16384  # shingles per block: a block of signatures stays in the CPU cache
WINDOW = 8  # texts beside a text in its LSH bucket that it is compared with (see candidate_pairs)
FIRST = 8  # the first texts of a bucket by rank, which every text of it is compared with
ESTIMATE_CHUNK = 100_000  # candidate pairs whose signatures are compared at once (memory stays flat)
JACCARD_CHUNK = 50_000  # candidate pairs whose shingle sets are compared at once (memory stays flat)
TEXT_CHUNK = 100_000  # texts whose shingles are sorted, or whose refined signatures are made, at once
REFINE = 256  # permutations of the second estimate (see near_pairs)


@dataclass
class Shingles:
    """The shingle hashes of every text, one block per text: text i owns hashes[offsets[i]:offsets[i+1]]."""

    hashes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, len = texts + 1

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


def shingle(texts: list[str], kind: str = "char", n: int = 5) -> Shingles:
    """Hash every n-gram of characters or words of the texts (as `match_text` gives them), all at once.
    A text shorter than n is one shingle; an empty text has none."""
    codes, values, lengths = _units(texts, kind, n)
    # A rolling hash at every position (contiguous slices, no gathers) ...
    every = values[: len(values) - n + 1].copy()
    for j in range(1, n):
        every *= BASE
        every += values[j : len(values) - n + 1 + j]
    # ... kept where the window lies inside one text (each text is followed by n-1 pad units, code 0),
    # or starts a text shorter than n.
    real = codes != 0
    starts = np.concatenate(([0], np.cumsum(lengths + n - 1)[:-1])).astype(np.int64)
    short_start = np.zeros(len(every), dtype=bool)
    short_start[starts[(lengths > 0) & (lengths < n)]] = True
    windows = np.flatnonzero(real[: len(every)] & (real[n - 1 :] | short_start))
    counts = np.where(lengths > 0, np.maximum(lengths - n + 1, 1), 0)
    return Shingles(_mix32(every[windows]), np.concatenate(([0], np.cumsum(counts))).astype(np.int64))


def _units(texts: list[str], kind: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All texts in one array of units, each text followed by n-1 pad units: the codes (code points, or word
    numbers from 1; 0 is a pad), the values hashed (code points, or 64-bit word hashes), and the text lengths."""
    normal = [match_text(t) for t in texts]
    if kind == "char":
        pad = "\0" * (n - 1)  # match_text leaves no NUL in a text
        codes = np.frombuffer((pad.join(normal) + pad).encode("utf-32-le"), dtype=np.uint32).astype(U64)
        return codes, codes, np.array([len(t) for t in normal], dtype=np.int64)
    vocabulary: dict[str, int] = {}
    flat: list[int] = []
    lengths = []
    for t in normal:
        row = [vocabulary.setdefault(w, len(vocabulary) + 1) for w in t.split()]
        flat += row
        flat += [0] * (n - 1)
        lengths.append(len(row))
    word_hash = np.zeros(len(vocabulary) + 1, dtype=U64)
    word_hash[1:] = [int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") for w in vocabulary]
    codes = np.array(flat, dtype=np.int64)
    return codes, word_hash[codes], np.array(lengths, dtype=np.int64)


def _mix32(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser, in place: every input bit moves every output bit; the high 32 bits are kept."""
    t = h >> U64(33)
    h ^= t
    h *= MIX1
    np.right_shift(h, U64(33), out=t)
    h ^= t
    h *= MIX2
    np.right_shift(h, U64(33), out=t)
    h ^= t
    h >>= U64(32)
    return h.astype(np.uint32)


def permutations(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, count, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, count, dtype=np.uint64).astype(np.uint32)
    return a, b


def signatures(shingles: Shingles, count: int = 128, seed: int = 1) -> np.ndarray:
    """The MinHash signature of every text: (texts, count) uint32; an empty text gets all-max (matches nothing)."""
    a, b = permutations(count, seed)
    offsets = shingles.offsets
    n = len(offsets) - 1
    out = np.full((n, count), np.iinfo(np.uint32).max, dtype=np.uint32)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    ends = offsets[nonempty + 1]
    lo = 0
    while lo < len(nonempty):
        # As many texts as fit into one block of shingles (at least one).
        first = offsets[nonempty[lo]]
        hi = max(lo + 1, int(np.searchsorted(ends, first + BLOCK, side="right")))
        rows = nonempty[lo:hi]
        block = shingles.hashes[first : offsets[rows[-1] + 1]]
        # One row per permutation (each text's shingles contiguous in a row: a fast min-reduce).
        permuted = a[:, None] * block  # wraps mod 2^32: with + b, a permutation of the hash space
        permuted += b[:, None]
        out[rows] = np.minimum.reduceat(permuted, offsets[rows] - first, axis=1).T
        lo = hi
    return out


@lru_cache(maxsize=32)
def bands_for(threshold: float, count: int) -> tuple[int, int]:
    """Bands and rows per band: datasketch's MinHashLSH choice for this threshold, weighted towards recall.
    Candidates are checked exactly, so a false positive costs one set comparison while a false negative is a
    duplicate missed: at threshold 0.7 and 128 permutations, 20 bands of 6 rows find a pair of similarity
    0.75 with probability 0.98 (the even weighting's 14 bands of 9 rows: 0.67)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=count, weights=(0.1, 0.9))
    return lsh.b, lsh.r


def candidate_pairs(sig: np.ndarray, bands: int, rows: int, rank: np.ndarray) -> np.ndarray:
    """Pairs (i, j) whose signatures agree on a whole band, each once, i ranked before j, with bounded work per
    text however big a band's bucket grows (template-shaped text fills buckets with items that share a frame
    and differ in their slot words). In each bucket a text meets the WINDOW texts beside it in the order of the
    next band's key (texts that agree on more of their signature sit together, so a near copy is among them)
    and the FIRST texts of the bucket by rank (an earlier corpus, the items kept first)."""
    n = len(sig)
    empty = (sig == np.iinfo(np.uint32).max).all(axis=1)
    keys = np.zeros((bands, n), dtype=U64)
    for band in range(bands):
        for col in sig[:, band * rows : (band + 1) * rows].T:
            keys[band] = keys[band] * BASE + col
        keys[band][empty] = np.arange(int(empty.sum()), dtype=U64) ^ U64(0xFFFFFFFFFFFFFFFF)  # alone in buckets
    codes = np.zeros(0, dtype=np.int64)
    found: list[np.ndarray] = []
    for band in range(bands):
        key = keys[band]
        for order, reach, from_first in (
            (np.lexsort((rank, keys[(band + 1) % bands], key)), WINDOW, False),
            (np.lexsort((rank, key)), FIRST, True),
        ):
            sorted_key = key[order]
            start = np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))
            size = np.diff(np.append(start, n))
            if size.max() < 2:
                break  # every text alone in its bucket: no pair in this band
            first_of = np.repeat(start, size)
            place = np.arange(n) - first_of  # each text's place in its bucket
            for d in range(1, reach + 1):
                if from_first:
                    at = np.flatnonzero(place >= d)  # each text meets the bucket's d-th text, if that is before it
                    found.append(_pair_codes(order[first_of[at] + d - 1], order[at], rank, n))
                else:
                    at = np.flatnonzero(place[d:] >= d)
                    found.append(_pair_codes(order[at], order[at + d], rank, n))
        # Pairs repeat across bands (a close pair shares many): fold them as they come, so memory stays flat.
        if sum(len(f) for f in found) > 64 * n or band == bands - 1:
            codes = np.concatenate([codes, *found])
            codes.sort()  # a sort and a compare: numpy's hashing np.unique took 4x as long here
            codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))] if len(codes) else codes
            found = []
    return np.stack([codes // n, codes % n], axis=1)


def _pair_codes(a: np.ndarray, b: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """Each pair as one number, its earlier-ranked text first."""
    swap = rank[a] > rank[b]
    first, second = np.where(swap, b, a), np.where(swap, a, b)
    return first.astype(np.int64) * n + second


def jaccard(shingles: Shingles, pairs: np.ndarray) -> np.ndarray:
    """The exact Jaccard similarity of the shingle sets of each pair, on whole arrays: for JACCARD_CHUNK pairs at
    a time the two sets of every pair are laid side by side under the pair's number and sorted, so a shared
    shingle is two equal neighbours (a Python set per text took 4-5x as long)."""
    sets = shingle_sets(shingles)
    sizes = np.diff(sets.offsets)
    out = np.empty(len(pairs))
    for lo in range(0, len(pairs), JACCARD_CHUNK):
        chunk = pairs[lo : lo + JACCARD_CHUNK]
        number = np.arange(len(chunk), dtype=U64) << U64(32)
        keys = np.concatenate(
            [np.repeat(number, sizes[side]) | sets.hashes[_spans(sets.offsets, side)] for side in chunk.T]
        )
        keys.sort()
        shared = keys[1:][keys[1:] == keys[:-1]] >> U64(32)
        common = np.bincount(shared.astype(np.int64), minlength=len(chunk))
        union = sizes[chunk[:, 0]] + sizes[chunk[:, 1]] - common
        out[lo : lo + len(chunk)] = common / np.maximum(union, 1)  # two empty texts: 0
    return out


def shingle_sets(shingles: Shingles) -> Shingles:
    """Each text's shingle hashes sorted, each once: sorted under the text's number, TEXT_CHUNK texts at a time."""
    offsets, hashes = shingles.offsets, shingles.hashes
    n = len(offsets) - 1
    parts, counts = [], []
    for lo in range(0, n, TEXT_CHUNK):
        hi = min(n, lo + TEXT_CHUNK)
        owner = np.repeat(np.arange(hi - lo, dtype=U64), np.diff(offsets[lo : hi + 1])) << U64(32)
        keys = owner | hashes[offsets[lo] : offsets[hi]]
        keys.sort()
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
        counts.append(np.bincount((keys >> U64(32)).astype(np.int64), minlength=hi - lo))
        parts.append(keys.astype(np.uint32))  # the low 32 bits: the hash
    sizes = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return Shingles(hashes, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


def _spans(offsets: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """The positions of the given texts' hashes, one text after another."""
    starts, sizes = offsets[texts], offsets[texts + 1] - offsets[texts]
    return np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))


def near_pairs(
    texts: list[str], settings: MinHashDedup, rank: np.ndarray, first: int = 0, engine: str = "local"
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of texts with a Jaccard similarity of shingles at or above the threshold, and the similarities;
    pairs of two texts before `first` (an earlier corpus) are not wanted. Candidates whose signatures agree
    far less than the threshold are let go before the exact check. `engine` ray: the signatures are made in
    chunks as a Ray Data job (a text's signature is its own: the same array)."""
    sh = shingle(texts, settings.shingle, settings.ngram)
    if engine == "ray" and texts:
        from studio.quality import ray_jobs

        chunks = [texts[i : i + SIGN_CHUNK] for i in range(0, len(texts), SIGN_CHUNK)]
        sig = np.concatenate(ray_jobs.ordered_map(lambda chunk: _signed(chunk, settings), chunks))
    else:
        sig = signatures(sh, settings.permutations, settings.seed)
    bands, rows = bands_for(settings.threshold, settings.permutations)
    pairs = candidate_pairs(sig, bands, rows, rank)
    pairs = pairs[pairs.max(axis=1) >= first] if len(pairs) else pairs
    # Two estimates let most unrelated candidates go before the exact check: the signatures, then REFINE more
    # permutations made for the texts still in a pair (on template-shaped text most candidates sit at 0.55-0.65,
    # just under the first estimate's reach). Each compares low bytes only, a quarter of the memory traffic.
    low = sig.astype(np.uint8)
    pairs = _likely(pairs, [low], settings.threshold)
    if len(pairs):
        pairs = _likely(pairs, [low, _refined(sh, _members(pairs, len(texts)), settings)], settings.threshold)
    sims = jaccard(sh, pairs)
    keep = sims >= settings.threshold
    return pairs[keep], sims[keep]


def _likely(pairs: np.ndarray, signs: list[np.ndarray], threshold: float) -> np.ndarray:
    """The pairs whose low-byte signatures agree as often as a pair at the threshold might: down to three standard
    deviations of the estimate below it (a pair at the threshold is let go once in 700, one at 0.75 once in about
    20,000 with the first signature alone, far more rarely with both). Two different minima share their low byte
    once in 256, so a share p of agreeing bytes estimates the similarity (p - 1/256) / (1 - 1/256)."""
    count = sum(s.shape[1] for s in signs)
    cut = threshold - 3 * np.sqrt(threshold * (1 - threshold) / count)
    agree = (cut + (1 - cut) / 256) * count
    keep = [
        sum(np.count_nonzero(s[chunk[:, 0]] == s[chunk[:, 1]], axis=1) for s in signs) >= agree
        for chunk in np.array_split(pairs, max(1, len(pairs) // ESTIMATE_CHUNK))
    ]
    return pairs[np.concatenate(keep)] if len(pairs) else pairs


def _members(pairs: np.ndarray, n: int) -> np.ndarray:
    """The texts in any pair, in order (a mask: np.unique took 1.8 s against 0.01 s for 3 million pairs of a million
    texts)."""
    member = np.zeros(n, dtype=bool)
    member[pairs.ravel()] = True
    return np.flatnonzero(member)


def _refined(shingles: Shingles, texts: np.ndarray, settings: MinHashDedup) -> np.ndarray:
    """The low bytes of REFINE further permutations (another seed) for the given texts, in rows of all texts."""
    sizes = shingles.offsets[texts + 1] - shingles.offsets[texts]
    some = Shingles(shingles.hashes[_spans(shingles.offsets, texts)], np.concatenate(([0], np.cumsum(sizes))))
    out = np.zeros((len(shingles.offsets) - 1, REFINE), dtype=np.uint8)
    for lo in range(0, len(texts), TEXT_CHUNK):
        part = Shingles(some.hashes, some.offsets[lo : lo + TEXT_CHUNK + 1])
        out[texts[lo : lo + TEXT_CHUNK]] = signatures(part, REFINE, settings.seed + 1).astype(np.uint8)
    return out


# Texts a Ray task signs at a time.
SIGN_CHUNK = 20_000


def _signed(texts: list[str], settings: MinHashDedup) -> np.ndarray:
    return signatures(shingle(texts, settings.shingle, settings.ngram), settings.permutations, settings.seed)
