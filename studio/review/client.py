"""A small client for Argilla 2.x's REST API (/api/v1): the calls push and pull make, nothing more.

Why not the `argilla` SDK: this needs response timestamps and reviewer ids as the server stores them,
retries that survive a server restart in the middle of a push, and a fast import; the SDK's record
fetch also trips a server bug (GET /records/{id} answers 500 for records with vectors).

The API key travels only in a header; no method logs or returns it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from studio.errors import StudioError

# Connection failures (a restart, a reset after a 500 on a keep-alive connection) are retried this long.
RETRY_SECONDS = 20.0
RETRY_STATUS = {502, 503, 504}
PAGE = 1000  # the largest page GET /datasets/{id}/records serves


class ArgillaError(StudioError):
    """Argilla answered with an error, or stopped answering."""


class Argilla:
    def __init__(self, api_url: str, api_key: str, timeout: float = 120.0, retry_seconds: float = RETRY_SECONDS):
        self.api_url = api_url.rstrip("/")
        self.retry_seconds = retry_seconds
        self._http = httpx.Client(
            base_url=self.api_url, headers={"X-Argilla-Api-Key": api_key}, timeout=timeout, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Argilla:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            try:
                response = self._http.request(method, f"/api/v1{path}", **kwargs)
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if response.status_code in expect:
                    return response.json() if response.content else None
                if response.status_code not in RETRY_STATUS:
                    raise self._error(method, path, response)
                problem = f"HTTP {response.status_code}"
            if time.monotonic() + delay > deadline:
                raise ArgillaError(
                    f"Argilla stopped answering ({problem}) during {method} {path}; start it again "
                    "(`studio review serve` for the local one) and re-run: what was pushed is kept, nothing is "
                    "duplicated",
                    self.api_url,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _error(self, method: str, path: str, response: httpx.Response) -> ArgillaError:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        if response.status_code == 401:
            return ArgillaError("Argilla refused the API key", self.api_url, "review.api_key_env")
        if response.status_code == 403:
            return ArgillaError(f"the API key's user may not {method} {path} (an owner or admin key is needed)")
        return ArgillaError(f"{method} {path}: HTTP {response.status_code}: {str(detail)[:500]}", self.api_url)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, json=body, params=params)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    # What push and pull need.
    def me(self) -> dict[str, Any]:
        return self.get("/me")

    def workspace(self, name: str, create: bool = True) -> dict[str, Any]:
        for workspace in self.get("/me/workspaces")["items"]:
            if workspace["name"] == name:
                return workspace
        if not create:
            raise ArgillaError(f"no workspace {name!r} in Argilla", self.api_url, "review.workspace")
        return self.post("/workspaces", {"name": name})

    def dataset(self, workspace_id: str, name: str) -> dict[str, Any] | None:
        found = self.get("/me/datasets", workspace_id=workspace_id, name=name)["items"]
        return found[0] if found else None

    def users(self) -> dict[str, str]:
        """User id -> username, where the key may list users (else an empty map: ids stand in for names)."""
        try:
            return {u["id"]: u["username"] for u in self.get("/users")["items"]}
        except ArgillaError:
            return {}

    def records(self, dataset_id: str, include: tuple[str, ...] = ("responses",)) -> Iterator[dict[str, Any]]:
        """Every record of a dataset, from Argilla's database (not its search index), page by page."""
        offset = 0
        while True:
            page = self.request(
                "GET",
                f"/datasets/{dataset_id}/records",
                params=[("offset", offset), ("limit", PAGE), *[("include", key) for key in include]],
            )
            yield from page["items"]
            offset += len(page["items"])
            total = page.get("total")
            if len(page["items"]) < PAGE or (total is not None and offset >= total):
                return
