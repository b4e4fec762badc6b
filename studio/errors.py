"""The one error type a user sees: a bad input, named by file and key or line, shown as one line (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class StudioError(Exception):
    """A mistake in the user's input or set-up. The CLI prints it as one line and exits with code 2."""

    def __init__(self, message: str, file: str | Path | None = None, where: str | int | None = None):
        self.message = message
        self.file = str(file) if file is not None else None
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.where not in (None, ""):
            parts.append(f"line {self.where}" if isinstance(self.where, int) else str(self.where))
        parts.append(self.message)
        return ": ".join(parts)


class RunStopped(Exception):
    """A stage ended before its work was done (a budget reached, items still pending, partial input), so
    nothing after it runs. The CLI prints one line (what stopped, why, what continues) and exits with 3.
    `command`: what continues, when it is not the command that was given (None: the same one again)."""

    def __init__(self, stage: str, why: str, command: str | None = None):
        self.stage, self.why, self.command = stage, why, command
        super().__init__(f"{stage} stopped: {why}")


def api_error(e: Any) -> str:
    """An OpenAI-compatible API's refusal (an openai.APIStatusError) as one line: its status and message."""
    body = e.body if isinstance(e.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    message = error.get("message") if isinstance(error, dict) else None
    return f"HTTP {e.status_code}: {message or e.message}"
