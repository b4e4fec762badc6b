"""studio's adaptation of argilla-server to osmem, through the real server: answers land in the search index
without scripted updates, even when two reviewers answer the same records at once, and "find similar"
ranks by cosine similarity without knn queries."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.review.client import Argilla

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def make_dataset(owner: Argilla, name: str, vectors: int | None = None) -> str:
    ws = owner.workspace("studio")
    ds = owner.dataset(ws["id"], name) or owner.post("/datasets", {"name": name, "workspace_id": ws["id"]})
    if ds["status"] == "draft":
        owner.post(f"/datasets/{ds['id']}/fields", {"name": "text", "title": "Text", "settings": {"type": "text"}})
        options = [{"value": "accept", "text": "Accept"}, {"value": "reject", "text": "Reject"}]
        owner.post(
            f"/datasets/{ds['id']}/questions",
            {
                "name": "decision",
                "title": "Keep?",
                "required": True,
                "settings": {"type": "label_selection", "options": options},
            },
        )
        if vectors:
            owner.post(f"/datasets/{ds['id']}/vectors-settings", {"name": "emb", "title": "emb", "dimensions": vectors})
        owner.put(f"/datasets/{ds['id']}/publish")
    return ds["id"]


def submitted_in_index(reviewer: Argilla, dataset_id: str) -> int:
    """Records whose search document holds this reviewer's submitted answer (the index, not SQLite)."""
    query = {
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["submitted"]}]
        }
    }
    return reviewer.post(f"/me/datasets/{dataset_id}/records/search", query, limit=1)["total"]


def test_concurrent_answers_from_two_reviewers_all_reach_the_index(owner, reviewers) -> None:
    dataset_id = make_dataset(owner, "osmem-concurrent")
    items = [{"external_id": f"c{i}", "fields": {"text": f"record {i}"}} for i in range(20)]
    owner.put(f"/datasets/{dataset_id}/records/bulk", {"items": items})
    record_ids = [r["id"] for r in owner.records(dataset_id, include=())]

    def answer(job: tuple) -> int:
        reviewer, record_id, value = job
        body = {"values": {"decision": {"value": value}}, "status": "submitted"}
        return reviewer.client.request("POST", f"/records/{record_id}/responses", json=body, expect=(201,)) is not None

    # 40 answers, the two reviewers on the same records at the same time.
    jobs = [(rv, rid, "accept" if n else "reject") for rid in record_ids for n, rv in enumerate(reviewers)]
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(answer, jobs))

    for reviewer in reviewers:
        assert submitted_in_index(reviewer.client, dataset_id) == 20
    progress = owner.get(f"/datasets/{dataset_id}/progress")
    assert progress["completed"] == 20


def test_find_similar_ranks_by_cosine(owner) -> None:
    dataset_id = make_dataset(owner, "osmem-similar", vectors=3)
    vectors = {f"v{i}": [1.0, i / 4, (i % 3) / 5] for i in range(12)}
    items = [{"external_id": k, "fields": {"text": k}, "vectors": {"emb": v}} for k, v in vectors.items()]
    owner.put(f"/datasets/{dataset_id}/records/bulk", {"items": items})
    ids = {r["external_id"]: r["id"] for r in owner.records(dataset_id, include=())}

    query = {"query": {"vector": {"name": "emb", "record_id": ids["v0"]}}}
    found = owner.post(f"/datasets/{dataset_id}/records/search", query, limit=5)["items"]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    expected = sorted((k for k in vectors if k != "v0"), key=lambda k: -cosine(vectors["v0"], vectors[k]))[:5]
    assert [f["record"]["external_id"] for f in found] == expected
    for f in found:
        score = (1 + cosine(vectors["v0"], vectors[f["record"]["external_id"]])) / 2
        assert f["query_score"] == pytest.approx(score, abs=1e-6)
