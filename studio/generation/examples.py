"""Seed examples: real items (CSV, JSONL or Parquet, read with pandas) that steer style and format.

Each request draws a few, seeded by the item's id, so a re-run draws the same ones; with `match`, only
examples that share the item's value on those axes (where the file has such a column) are drawn.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from studio.tables import read_rows


class ExamplePool:
    def __init__(self, rows: list[dict[str, Any]], per_request: int, match: list[str], seed: int):
        self.rows, self.per_request, self.seed = rows, per_request, seed
        self.match = [m for m in match if rows and m in rows[0]]
        self._by_key: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            self._by_key.setdefault(tuple(str(row[m]) for m in self.match), []).append(row)

    @classmethod
    def load(cls, path: Path, per_request: int, match: list[str], seed: int) -> ExamplePool:
        return cls(read_rows(path), per_request, match, seed)

    def draw(self, item_id: str, axes: dict[str, str]) -> list[dict[str, Any]]:
        candidates = self._by_key.get(tuple(axes.get(m, "") for m in self.match)) or self.rows
        rng = random.Random(f"{self.seed}:{item_id}")  # a str seed is hashed the same in every process
        return rng.sample(candidates, min(self.per_request, len(candidates)))
