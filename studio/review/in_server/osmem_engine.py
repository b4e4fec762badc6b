"""argilla-server's OpenSearch engine, adapted to osmem (an in-memory OpenSearch-compatible server).

osmem lacks two OpenSearch features argilla-server uses:
1. Scripted updates. Argilla stores every answer in the record's search document with a Painless script,
   so without them each submitted answer fails with HTTP 500. Here the document is read, changed in
   Python and written back only if nobody wrote it in between (`if_seq_no`/`if_primary_term`); on a
   conflict it is read again. Concurrent answers from several reviewers lose nothing.
2. `knn` queries ("find similar"). Here the documents that pass the filters are ranked by cosine
   similarity in Python, scored as OpenSearch's `cosinesimil` space scores them: (1 + cosine) / 2.

Everything else is argilla-server's own engine, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from uuid import UUID

from argilla_server.constants import SEARCH_ENGINE_OPENSEARCH
from argilla_server.models import Response, Suggestion, VectorSettings
from argilla_server.search_engine import SearchEngine
from argilla_server.search_engine.commons import (
    es_bool_query,
    es_ids_query,
    es_index_name_for_dataset,
    es_path_for_vector_settings,
)
from argilla_server.search_engine.opensearch import OpenSearchEngine
from opensearchpy.exceptions import ConflictError

MAX_ATTEMPTS = 50
# OpenSearch's default result window: far more than a review sample holds.
MAX_CANDIDATES = 10_000


@SearchEngine.register(engine_name=SEARCH_ENGINE_OPENSEARCH)
class OsmemEngine(OpenSearchEngine):
    async def _rewrite_document(self, index: str, id: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Read-modify-write with optimistic concurrency, in place of a scripted update."""
        for _ in range(MAX_ATTEMPTS):
            found = await self.client.get(index=index, id=id)
            source = found["_source"]
            change(source)
            try:
                await self.client.index(
                    index=index,
                    id=id,
                    body=source,
                    if_seq_no=found["_seq_no"],
                    if_primary_term=found["_primary_term"],
                    refresh=True,
                )
                return
            except ConflictError:
                continue  # someone wrote the document in between: read it again
        raise ConflictError(409, f"document {id} kept changing during {MAX_ATTEMPTS} attempts", {})

    async def update_record_response(self, response: Response) -> None:
        record = response.record
        new = self._map_record_response_to_es(response)

        def change(source: dict[str, Any]) -> None:
            kept = [r for r in source.get("responses") or [] if str(r.get("id")) != str(new["id"])]
            source["responses"] = [*kept, new]

        await self._rewrite_document(es_index_name_for_dataset(record.dataset), str(record.id), change)

    async def delete_record_response(self, response: Response) -> None:
        record = response.record

        def change(source: dict[str, Any]) -> None:
            source["responses"] = [r for r in source.get("responses") or [] if str(r.get("id")) != str(response.id)]

        await self._rewrite_document(es_index_name_for_dataset(record.dataset), str(record.id), change)

    async def delete_record_suggestion(self, suggestion: Suggestion) -> None:
        def change(source: dict[str, Any]) -> None:
            (source.get("suggestions") or {}).pop(suggestion.question.name, None)

        index = es_index_name_for_dataset(suggestion.record.dataset)
        await self._rewrite_document(index, str(suggestion.record_id), change)

    async def _request_similarity_search(
        self,
        index: str,
        vector_settings: VectorSettings,
        value: list[float],
        k: int,
        excluded_id: UUID | None = None,
        query_filters: list[dict] | None = None,
    ) -> dict:
        """The k documents most similar to `value` among those that pass the filters, ranked in Python."""
        key = es_path_for_vector_settings(vector_settings)
        query = es_bool_query(
            must=[es_bool_query(should=query_filters, minimum_should_match=len(query_filters))]
            if query_filters
            else None,
            must_not=[es_ids_query([str(excluded_id)])] if excluded_id else None,
        )
        page = await self.client.search(
            index=index,
            body={"query": query, "_source": [f"vectors.{key}"]},
            size=MAX_CANDIDATES,
            track_total_hits=True,
        )
        scored = []
        for hit in page["hits"]["hits"]:
            vector = (hit.get("_source") or {}).get("vectors", {}).get(key)
            if vector:
                scored.append(((1 + _cosine(value, vector)) / 2, hit["_id"]))
        scored.sort(key=lambda pair: -pair[0])
        best = [{"_id": id, "_score": score} for score, id in scored[:k]]
        return {"hits": {"total": {"value": len(best)}, "hits": best}}


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
