"""Semantic dedup with the bundled all-MiniLM-L6-v2 (offline): paraphrases that share few shingles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio import pipeline
from studio.errors import StudioError
from studio.project import Dedup
from studio.quality import semantic
from studio.quality.dedup import deduplicate
from studio.quality.diversity import mean_pairwise_distance
from tests.quality.conftest import DISTINCT, read_lines, write_lines
from tests.quality.test_minhash import exact_jaccard

pytestmark = pytest.mark.slow  # loads the embedding model (about 6 s)

# Reworded: few shared character shingles, the same meaning.
PARAPHRASE = (
    "Penguin wood is a pale silvery grey, banded with thin almost-black stripes. In sunlight it slowly gets darker."
)
LOOSE = (
    "Because the wood burns slowly, fireplaces were lined with it. Blackened beams can still be seen in old cottages."
)


def test_paraphrases_are_semantic_duplicates_and_unrelated_items_stay(tmp_path: Path) -> None:
    assert exact_jaccard(PARAPHRASE, DISTINCT[0]) < 0.3  # MinHash cannot see this one
    rows = [{"id": f"d{i}", "data": {"text": t}, "meta": {}} for i, t in enumerate(DISTINCT)]
    rows += [
        {"id": "para", "data": {"text": PARAPHRASE}, "meta": {}},
        {"id": "loose", "data": {"text": LOOSE}, "meta": {}},
    ]
    source = write_lines(tmp_path / "in.jsonl", rows)
    result = pipeline.dedup(file=source, out=tmp_path)
    (dropped,) = read_lines(tmp_path / "duplicates.jsonl")
    assert dropped["id"] == "para"
    rejected = dropped["meta"]["rejected"]
    assert (rejected["rule"], rejected["twin"], rejected["measure"]) == ("semantic", "d0", "cosine")
    assert rejected["similarity"] >= 0.9
    kept = {r["id"]: r["meta"]["dedup"] for r in read_lines(tmp_path / "unique.jsonl")}
    assert len(kept) == len(DISTINCT) + 1
    # The looser paraphrase stays, marked with its nearest neighbour: a borderline item for review.
    assert kept["loose"]["nearest"] == "d4" and 0.8 < kept["loose"]["cosine"] < 0.9
    assert kept["d0"]["twins"] == 1
    assert result["counts"]["by_method"] == {"exact": 0, "minhash": 0, "semantic": 1}
    assert 0 < result["diversity"]["mean_pairwise_distance"] < 1


def test_mean_pairwise_distance_matches_all_pairs() -> None:
    vectors = semantic.embed(DISTINCT[:6])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    cos = vectors @ vectors.T
    brute = 1 - cos[~np.eye(6, dtype=bool)].mean()
    assert mean_pairwise_distance(vectors) == pytest.approx(brute, abs=1e-4)
    assert semantic.model() is semantic.model()  # loaded once per process


def test_each_text_is_embedded_once_per_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    first = semantic.embed(DISTINCT[6:9])
    assert semantic.cache_file(semantic.precision()[0]).exists()

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached vectors should have been used")

    monkeypatch.setattr(semantic, "model", no_model)
    assert np.array_equal(semantic.embed([DISTINCT[8], DISTINCT[6], DISTINCT[8]]), first[[2, 0, 2]])


def test_embeddings_take_bf16_only_where_the_cpu_computes_it_and_stay_near_fp32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen, why = semantic.precision("cpu")
    flags = Path("/proc/cpuinfo").read_text()
    assert (chosen == "bf16") == ("avx512_bf16" in flags or "amx_bf16" in flags), why
    if chosen == "bf16":
        fast = semantic.embed(DISTINCT[:4], "cpu")
        monkeypatch.setattr(semantic, "precision", lambda device=None: ("fp32", "forced"))
        exact = semantic.embed(DISTINCT[:4], "cpu")
        assert ((fast * exact).sum(axis=1) > 0.999).all()  # the same neighbours either way


def test_a_paraphrase_of_an_earlier_corpus_is_dropped(tmp_path: Path) -> None:
    accepted = write_lines(tmp_path / "accepted.jsonl", [{"id": f"old{i}", "text": t} for i, t in enumerate(DISTINCT)])
    batch = write_lines(tmp_path / "batch.jsonl", [{"id": "new", "text": PARAPHRASE}, {"id": "new2", "text": LOOSE}])
    result = pipeline.dedup(file=batch, against=[accepted], out=tmp_path / "out")
    (dropped,) = read_lines(tmp_path / "out/duplicates.jsonl")
    assert dropped["id"] == "new"
    assert (dropped["meta"]["rejected"]["twin"], dropped["meta"]["rejected"]["twin_file"]) == ("old0", str(accepted))
    assert read_lines(tmp_path / "out/unique.jsonl") == [{"id": "new2", "text": LOOSE}]
    assert result["counts"]["by_method"]["semantic"] == 1


def planted_vectors(rng: np.random.Generator) -> np.ndarray:
    """6,000 random unit vectors and 600 partners of the first 600, at a cosine of about 0.95."""
    base = rng.standard_normal((6000, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    noise = rng.standard_normal((600, 64)).astype(np.float32)
    vectors = np.concatenate([base, 0.95 * base[:600] + 0.31 * noise / np.linalg.norm(noise, axis=1, keepdims=True)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("first", [0, 3000])
def test_the_hnsw_index_finds_the_pairs_of_exact_search(first: int) -> None:
    vectors = planted_vectors(np.random.default_rng(first))
    exact, exact_sims, _, _ = semantic.near_pairs(vectors, 0.9, first, "exact")
    pairs, sims, nearest, nearest_sim = semantic.near_pairs(vectors, 0.9, first, "hnsw")
    expected, found = set(map(tuple, exact.tolist())), set(map(tuple, pairs.tolist()))
    assert len(expected) == 600 and len(found & expected) / len(expected) >= 0.99 and found <= expected
    assert np.allclose(sims, (vectors[pairs[:, 0]] * vectors[pairs[:, 1]]).sum(axis=1), atol=1e-6)  # exact cosines
    partner = {i: j for i, j in expected} | {j: i for i, j in expected}
    # A planted partner is the nearest (as approximate as the pairs: the index is built on several threads).
    assert np.mean([nearest[k] == partner[k] for k in range(max(first, 6000), 6600)]) >= 0.99
    assert (nearest[:first] == -1).all() and (nearest_sim[first:] > 0).all()


def test_auto_takes_the_index_for_big_corpora_and_a_missing_usearch_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert semantic.index_for("auto", semantic.SEMANTIC_INDEX_FROM - 1) == "exact"
    assert semantic.index_for("auto", semantic.SEMANTIC_INDEX_FROM) == "hnsw"
    assert semantic.index_for("exact", 10**7) == "exact"
    monkeypatch.setattr(semantic.importlib.util, "find_spec", lambda name: None)
    assert semantic.index_for("auto", 10**7) == "exact"
    with pytest.raises(StudioError, match=r"pip install 'studio\[index\]'"):
        semantic.index_for("hnsw", 10)


def test_dedup_through_the_index_drops_what_exact_search_drops() -> None:
    texts = [*DISTINCT, PARAPHRASE, LOOSE]
    settings = {"exact": False, "minhash": {"enabled": False}}
    decided = {
        index: deduplicate(texts, np.arange(len(texts)), Dedup(**settings, semantic={"index": index}))
        for index in ("exact", "hnsw")
    }
    assert decided["hnsw"].twin.tolist() == decided["exact"].twin.tolist()
    assert decided["hnsw"].twin[len(DISTINCT)] == 0  # the paraphrase names its original
