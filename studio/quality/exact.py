"""Exact duplicates: the same text once case, spacing, punctuation and Unicode forms are set aside."""

from __future__ import annotations

import hashlib

import numpy as np

from studio.quality.text import match_text


def fingerprints(texts: list[str]) -> list[bytes]:
    return [hashlib.blake2b(match_text(t).encode(), digest_size=16).digest() for t in texts]


def exact_twins(texts: list[str], order: np.ndarray) -> np.ndarray:
    """For each text, the index of the first text in `order` with the same fingerprint (itself if none)."""
    prints = fingerprints(texts)
    first: dict[bytes, int] = {}
    twin = np.arange(len(texts))
    for i in order:
        twin[i] = first.setdefault(prints[i], i)
    return twin
