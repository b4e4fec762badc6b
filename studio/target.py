"""A resolved endpoint: where generation requests go, named safely for records, logs and cache keys.

In the core (no `openai` import), so deciding whether the generate stage can be skipped starts nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Target:
    """A resolved endpoint. `kind`: local (the bundled model), loopback (another server here), remote.
    `fleet`: every base_url when the project lists several servers of the same model (base_url is the first)."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    kind: str = "remote"
    fleet: tuple[str, ...] = ()

    @property
    def base_urls(self) -> tuple[str, ...]:
        return self.fleet or (self.base_url,)

    @property
    def public_url(self) -> str:
        """The base_url (every one of a fleet) without credentials or query string, safe for records and logs."""
        return ", ".join(public_url(u) for u in self.base_urls)

    @property
    def identity(self) -> str:
        """What names the endpoint in cache keys: the bundled model is the same whatever port it got, and a
        fleet's servers serve one model, so a server added to or taken from the list keeps every reply."""
        return "local" if self.kind == "local" else "fleet" if self.fleet else self.public_url

    @staticmethod
    def kind_of(base_url: str) -> str:
        host = urlsplit(base_url).hostname or ""
        return "loopback" if host in ("localhost", "127.0.0.1", "::1") else "remote"


@lru_cache(maxsize=64)
def public_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
