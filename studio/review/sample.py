"""Which items people review: a seeded sample, borderline items first, the rest stratified by axes.

Borderline items are those the gate was unsure about: kept although close to another item (the nearest
cosine similarity in meta["dedup"] at NEAR_DUPLICATE or more; semantic dedup drops from 0.9 by default),
flagged by a cleaning heuristic (meta["clean"]["warnings"]), or scored below full marks by the LLM judge
(meta["judge"]["mean"]: the lower, the more doubtful). All are optional: a run without the gate has no
borderline items. Up to a share of the
sample goes to them, most doubtful first. The remaining places are shared out among the strata (the
combinations of the chosen axes' values) in proportion to their sizes, largest remainders first, and
filled in seeded order. The same items, settings and seed give the same sample, so pushing again
updates the same records.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from studio.records import Record, stable_hash

NEAR_DUPLICATE = 0.8


def dedup_similarity(meta: dict[str, Any]) -> float | None:
    """The cosine similarity to the nearest other item that dedup recorded on a kept item, if any."""
    cosine = (meta.get("dedup") or {}).get("cosine")
    return float(cosine) if isinstance(cosine, int | float) else None


def clean_warnings(meta: dict[str, Any]) -> list[str]:
    """The cleaning stage's warnings (heuristics that flagged but did not reject the item)."""
    clean = meta.get("clean")
    warnings = clean.get("warnings") if isinstance(clean, dict) else None
    if not isinstance(warnings, list):
        return []
    return [str(w.get("rule", w)) if isinstance(w, dict) else str(w) for w in warnings]


def judge_mean(meta: dict[str, Any]) -> float | None:
    """The LLM judge's mean score (1-5) of an item, if it was scored."""
    mean = (meta.get("judge") or {}).get("mean")
    return float(mean) if isinstance(mean, int | float) else None


def doubt(meta: dict[str, Any]) -> float:
    """How borderline an item is: 0 for none; one per cleaning warning, plus the similarity of a near twin,
    plus the judge's doubt (0 at a mean score of 5, 1 at 1)."""
    similarity = dedup_similarity(meta) or 0.0
    mean = judge_mean(meta)
    judged = (5 - mean) / 4 if mean is not None else 0.0
    return len(clean_warnings(meta)) + (similarity if similarity >= NEAR_DUPLICATE else 0.0) + judged


def stratum(record: Record, axes: list[str]) -> tuple[str, ...]:
    values = record.meta.get("axes") or {}
    return tuple(str(values.get(axis, "")) for axis in axes)


def choose(records: list[Record], n: int, axes: list[str], borderline: float, seed: int) -> list[Record]:
    """`n` of `records` (all if fewer), in their original order."""
    if n >= len(records):
        return list(records)
    order = {r.id: stable_hash("review-sample", seed, r.id) for r in records}
    doubtful = sorted((r for r in records if doubt(r.meta) > 0), key=lambda r: (-doubt(r.meta), order[r.id]))
    chosen = {r.id for r in doubtful[: int(round(n * borderline))]}

    rest = [r for r in records if r.id not in chosen]
    groups: dict[tuple[str, ...], list[Record]] = defaultdict(list)
    for r in sorted(rest, key=lambda r: order[r.id]):
        groups[stratum(r, axes)].append(r)
    for key, count in _allocate({k: len(v) for k, v in groups.items()}, n - len(chosen)).items():
        chosen.update(r.id for r in groups[key][:count])
    return [r for r in records if r.id in chosen]


def _allocate(sizes: dict[tuple[str, ...], int], places: int) -> dict[tuple[str, ...], int]:
    """Places shared in proportion to the sizes (largest remainder method), never more than a stratum holds."""
    total = sum(sizes.values())
    if total == 0 or places <= 0:
        return {}
    quotas = {k: places * size / total for k, size in sizes.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(sizes, key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in by_remainder[: places - sum(counts.values())]:
        counts[k] += 1
    return {k: min(c, sizes[k]) for k, c in counts.items()}
