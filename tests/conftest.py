"""Shared fixtures: real servers started locally, projects copied into temporary folders.

Nothing is downloaded from a hub (HF_HUB_OFFLINE=1) and nothing is written into outputs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def studio_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private STUDIO_HOME, so the tests' servers never meet a user's."""
    home = tmp_path_factory.mktemp("studio-home")
    os.environ["STUDIO_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def llm_server(studio_home: Path):
    """The real llama.cpp server with the bundled model, on a free port, for the whole session."""
    from studio.serve import llm

    server, _ = llm.serve(port=0)
    yield server
    llm.stop()


def copy_project(dest: Path, changes: dict[str, object] | None = None) -> Path:
    """The penguin-wood project (file, schema, prompts) copied into `dest`, with dotted-key changes."""
    for folder in ("schemas", "prompts"):
        shutil.copytree(ROOT / folder, dest / folder, dirs_exist_ok=True)
    raw = yaml.safe_load((ROOT / "studio.yaml").read_text())
    raw["output"] = str(dest / "outputs")
    for dotted, value in (changes or {}).items():
        node = raw
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = dest / "studio.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def run_studio(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """The CLI as a user runs it: a separate process; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
