"""The Python API under the CLI: each stage by itself, and the whole loop.

    import studio
    result = studio.generate("studio.yaml", n=20)

Stages hand work to each other only as files in the run folder, listed in the manifest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import DEFAULT_PROJECT, Project, load_project
from studio.runs import FILES, Run

Say = Callable[[str], None]


def say_stderr(message: str) -> None:
    print(f"studio: {message}", file=sys.stderr, flush=True)


def open_project(project: str | Path | Project = DEFAULT_PROJECT, **overrides: Any) -> Project:
    if isinstance(project, Project):
        return project
    return load_project(project, overrides)


def open_run(project: Project, run: str | None = None) -> Run:
    return Run.open(project.output_dir, project.domain.name, run)


def resolve_target(project: Project, say: Say = say_stderr) -> Any:
    """The endpoint to generate with: the configured one, or the bundled local model (started if needed)."""
    from studio.generate.client import Target

    e = project.endpoint
    if e.base_url:
        if not e.model:
            raise StudioError("endpoint.model is required when endpoint.base_url is set", None, "endpoint.model")
        return Target(e.base_url, e.model, os.environ.get(e.api_key_env) or None, Target.kind_of(e.base_url))
    from studio.serve import llm

    server, started = llm.serve()
    say(
        f"no endpoint configured: {'started' if started else 'using'} the bundled local model "
        f"{server.model} at {server.base_url} (stop it with `studio llm stop`)"
    )
    return Target(server.base_url, server.model, None, "local")


def generate(
    project: str | Path | Project = DEFAULT_PROJECT,
    n: int | None = None,
    run: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Generate items into the run folder; resumes where an earlier attempt stopped."""
    from studio.generate.stage import run_generate

    p = open_project(project, **{"endpoint.base_url": base_url, "endpoint.model": model})
    r = open_run(p, run)
    result = run_generate(p, r, resolve_target(p, say), n=n, show_progress=show_progress)
    result["run_dir"] = str(r.dir)
    return result


def count_lines(path: Path) -> int | None:
    if not path.exists():
        return None
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def status(run_dir: str | Path) -> dict[str, Any]:
    """What each stage of a run holds: counts from its files, and the manifest's entries."""
    run = Run(run_dir)
    if not run.dir.is_dir():
        raise StudioError("no such run folder", run.dir)
    files = {key: count_lines(run.file(key)) for key, name in FILES.items() if name.endswith(".jsonl")}
    return {"run": str(run.dir), "files": files, "stages": run.manifest()["stages"]}
