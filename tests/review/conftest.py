"""The real local Argilla for the session (argilla-server, osmem, Redis, SQLite), and reviewers who answer
through Argilla's REST API as people do in the UI.

The stack itself is the session fixture `argilla` in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.records import Record, write_jsonl
from studio.review.client import Argilla
from tests.conftest import copy_project


@pytest.fixture(scope="session")
def owner(argilla) -> Argilla:
    with Argilla(argilla.url, argilla.api_key()) as client:
        yield client


class Reviewer:
    """An annotator user with its own API key, answering through POST /api/v1/me/responses/bulk."""

    def __init__(self, owner: Argilla, username: str, workspace: str):
        users = {u["username"]: u for u in owner.get("/users")["items"]}
        user = users.get(username) or owner.post(
            "/users", {"first_name": username, "username": username, "role": "annotator", "password": "secret-pw-1"}
        )
        ws = owner.workspace(workspace)
        if username not in {u["username"] for u in owner.get(f"/workspaces/{ws['id']}/users")["items"]}:
            owner.post(f"/workspaces/{ws['id']}/users", {"user_id": user["id"]})
        self.username, self.id = username, user["id"]
        self.client = Argilla(owner.api_url, user["api_key"])

    def answer(self, items: list[dict]) -> None:
        """items: {record_id, status: submitted|discarded, values: {question: value}}."""
        for i in range(0, len(items), 100):
            batch = [
                {
                    "record_id": it["record_id"],
                    "status": it["status"],
                    "values": {q: {"value": v} for q, v in (it.get("values") or {}).items()},
                }
                for it in items[i : i + 100]
            ]
            answer = self.client.post("/me/responses/bulk", {"items": batch})
            errors = [item["error"] for item in answer["items"] if item.get("error")]
            assert not errors, errors


@pytest.fixture(scope="session")
def reviewers(owner) -> tuple[Reviewer, Reviewer]:
    return Reviewer(owner, "ann1", "studio"), Reviewer(owner, "ann2", "studio")


def review_project(dest: Path, run: str, items: list[Record], **review: object) -> Path:
    """The penguin-wood project in `dest`, with `items` as the run's 03-judged.jsonl (what review reads)."""
    path = copy_project(dest, {f"review.{k}": v for k, v in review.items()})
    write_jsonl(dest / "outputs" / "penguin-wood" / run / "03-judged.jsonl", items)
    return path


def argilla_ids(client: Argilla, dataset_id: str) -> dict[str, str]:
    """studio id -> Argilla record id."""
    return {r["external_id"]: r["id"] for r in client.records(dataset_id, include=())}
