"""A resolved endpoint: where generation requests go, named safely for records, logs and cache keys.

In the core (no `openai` import), so deciding whether the generate stage can be skipped starts nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Target:
    """A resolved endpoint. `kind`: local (the bundled model), loopback (another server here), remote."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    kind: str = "remote"

    @property
    def public_url(self) -> str:
        """The base_url without credentials or query string, safe for records and logs."""
        return _public_url(self.base_url)

    @property
    def identity(self) -> str:
        """What names the endpoint in cache keys: the bundled model is the same whatever port it got."""
        return "local" if self.kind == "local" else self.public_url

    @staticmethod
    def kind_of(base_url: str) -> str:
        host = urlsplit(base_url).hostname or ""
        return "loopback" if host in ("localhost", "127.0.0.1", "::1") else "remote"


@lru_cache(maxsize=64)
def _public_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
