"""The request cache: every answered request, keyed by a hash of what was asked, in SQLite in the run folder.

A reply is committed the moment it arrives, so a killed run never pays for it twice. WAL mode with
synchronous=NORMAL makes a commit cost tens of microseconds and survive the death of the process (the
OS holds the written pages); only a power cut can lose the last commits, which are then asked again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from studio.records import stable_hash


def request_key(base_url: str, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    return stable_hash(base_url, model, messages, params, length=32)


class ReplyCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL,"
            " model TEXT, tokens_in INTEGER, tokens_out INTEGER, created REAL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, reply: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                json.dumps(reply),
                reply.get("model"),
                reply.get("tokens_in", 0),
                reply.get("tokens_out", 0),
                time.time(),
            ),
        )

    def usage(self) -> dict[str, tuple[int, int]]:
        """Tokens in and out of every answered request, per model: what the run has paid for so far."""
        rows = self.db.execute(
            "SELECT coalesce(model, ''), sum(tokens_in), sum(tokens_out) FROM replies GROUP BY 1"
        ).fetchall()
        return {m: (int(i or 0), int(o or 0)) for m, i, o in rows}

    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta_with_prefix(self, prefix: str) -> dict[str, Any]:
        """Every meta entry whose key starts with `prefix` (a plain prefix: no LIKE wildcards to escape)."""
        rows = self.db.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
        ).fetchall()
        return {k: json.loads(v) for k, v in rows}

    def delete_meta(self, key: str) -> None:
        self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def close(self) -> None:
        self.db.close()
