"""Which Argilla push and pull talk to: the one the project names, or the local one (started if needed).

An existing Argilla: review.api_url (or env ARGILLA_API_URL), with the API key from the environment
variable review.api_key_env. The local one: `studio review serve`'s stack, with the owner's key that
studio stored; when it is not running it is started, as `studio generate` starts the local model.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from studio.errors import StudioError
from studio.project import Review
from studio.review import server
from studio.review.client import Argilla


def connect(review: Review, say: Callable[[str], None]) -> Argilla:
    api_url = review.api_url or os.environ.get("ARGILLA_API_URL")
    if api_url:
        key = os.environ.get(review.api_key_env)
        local = server.status()
        if not key and local and api_url.rstrip("/") == local.url:
            key = local.api_key()
        if not key:
            raise StudioError(
                f"set the environment variable {review.api_key_env} to an API key of {api_url} "
                "(Argilla shows it under My settings)",
                None,
                "review.api_key_env",
            )
        return Argilla(api_url, key)
    stack, started = server.serve(say=say)
    if started:
        say("no review.api_url: using the local Argilla, left running for the reviewers (`studio review stop`)")
    return Argilla(stack.url, stack.api_key())
