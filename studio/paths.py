"""Where studio keeps things outside a run folder.

- home ($STUDIO_HOME, default ~/.local/state/studio): state of the local services (pid files, logs,
  Argilla's data and credentials). Tests point it at a temporary folder.
- cache ($STUDIO_CACHE, default ~/.cache/studio): what can be rebuilt but is slow to build (the converted
  default model, the argilla-server virtual environment). Shared by every project and test session.
"""

from __future__ import annotations

import os
from pathlib import Path


def _dir(variable: str, default: str, *parts: str) -> Path:
    path = Path(os.environ.get(variable) or default).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def home(*parts: str) -> Path:
    return _dir("STUDIO_HOME", "~/.local/state/studio", *parts)


def cache(*parts: str) -> Path:
    return _dir("STUDIO_CACHE", "~/.cache/studio", *parts)
