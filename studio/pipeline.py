"""The Python API under the CLI: each stage by itself, and the whole loop.

    import studio
    result = studio.generate("studio.yaml", n=20)

Stages hand work to each other only as files in the run folder, listed in the manifest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def resolve_target(project: Project, say: Say = say_stderr, start: bool = True) -> Any:
    """The endpoint to generate with: the configured one, or the bundled local model (started if needed;
    with start=False, named without starting it)."""
    from studio.generation.client import Target

    e = project.endpoint
    if e.base_url:
        if not e.model:
            raise StudioError("endpoint.model is required when endpoint.base_url is set", None, "endpoint.model")
        return Target(e.base_url, e.model, os.environ.get(e.api_key_env) or None, Target.kind_of(e.base_url))
    from studio.serve import llm

    if not start:
        return Target("http://127.0.0.1/v1", llm.BUNDLED_ALIAS, None, "local")
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
    dry_run: bool = False,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Generate items into the run folder; resumes where an earlier attempt stopped. With dry_run, return
    the plan and its estimated tokens and cost, and send nothing."""
    from studio.generation import stage

    p = open_project(project, **{"endpoint.base_url": base_url, "endpoint.model": model, "generate.n": n})
    r = open_run(p, run)
    if dry_run:
        result = stage.dry_run(p, r, resolve_target(p, say, start=False))
    else:
        result = stage.run_generate(p, r, resolve_target(p, say), show_progress=show_progress, say=say)
    result["run_dir"] = str(r.dir)
    return result


# Review in Argilla (studio.review): the local server, then push a sample and pull the decisions back.
def review_install(say: Say = say_stderr) -> Path:
    """Create argilla-server's own virtual environment (once per machine; a no-op when it is there)."""
    from studio.review import server

    return server.install(say)


def review_serve(port: int | None = None, say: Say = say_stderr) -> tuple[Any, bool]:
    """Start the local Argilla (or find it running). Returns (stack, started); stack.url is where it answers."""
    from studio.review import server

    return server.serve(port=port, say=say)


def review_stop() -> bool:
    """Stop the local Argilla. Returns whether it was running."""
    from studio.review import server

    return server.stop()


def review_status() -> Any | None:
    """The running local Argilla, or None."""
    from studio.review import server

    return server.status()


@contextmanager
def _argilla(project: str | Path | Project, run: str | None, say: Say) -> Iterator[tuple[Project, Run, Any]]:
    """The project, the run (which must have unique items) and a client of its Argilla."""
    from studio.review.connection import connect

    p = open_project(project)
    r = open_run(p, run)
    if not r.file("unique").exists():
        raise StudioError("no unique items in this run yet: run `studio dedup` first", r.file("unique"))
    with connect(p.review, say) as client:
        yield p, r, client


def review_push(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    size: int | None = None,
    fraction: float | None = None,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Push a sample of the run's unique items to Argilla (the local one unless review.api_url is set)."""
    from studio.review.push import run_push

    with _argilla(project, run, say) as (p, r, client):
        result = run_push(p, r, client, size=size, fraction=fraction, show_progress=show_progress)
    return {**result, "run_dir": str(r.dir)}


def review_pull(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    wait: bool = False,
    target: float | None = None,
    timeout: float | None = None,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Pull reviewers' answers into 04-reviewed.jsonl; with wait, first until a share of the sample is reviewed."""
    from studio.review.pull import run_pull

    with _argilla(project, run, say) as (p, r, client):
        result = run_pull(p, r, client, wait=wait, target=target, timeout=timeout, show_progress=show_progress, say=say)
    return {**result, "run_dir": str(r.dir)}


def optional_project(project: str | Path | Project | None) -> Project | None:
    """The project given, else studio.yaml if present; None: the gate's defaults on any JSONL."""
    if project is None:
        return load_project(DEFAULT_PROJECT) if Path(DEFAULT_PROJECT).exists() else None
    return open_project(project)


def validate(
    project: str | Path | Project | None = None,
    run: str | None = None,
    file: str | Path | None = None,
    schema: str | Path | None = None,
    out: str | Path | None = None,
    id_field: str = "id",
    clean: bool = True,
    force: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """Validate and clean. With `file`: any JSONL into out/valid.jsonl and out/invalid.jsonl (default: the
    file's folder). Without: the run's 01-generated.jsonl into 02-valid.jsonl and 02-invalid.jsonl.
    `workers` > 1 checks large files in that many processes."""
    from studio.curate.validate import run_validate, validate_standalone

    if file is not None:
        return validate_standalone(file, optional_project(project), schema, out, id_field, clean, workers)
    p = open_project(project or DEFAULT_PROJECT)
    r = open_run(p, run)
    result = run_validate(p, r, clean=clean, force=force, workers=workers)
    result["run_dir"] = str(r.dir)
    return result


def dedup(
    project: str | Path | Project | None = None,
    run: str | None = None,
    file: str | Path | None = None,
    against: list[str | Path] | None = None,
    out: str | Path | None = None,
    id_field: str = "id",
    text_field: str | None = None,
    semantic: bool | None = None,
    keep: str | None = None,
    force: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Drop exact, near and semantic duplicates, also of earlier corpora (`against`: JSONL files or run
    folders). With `file`: any JSONL into out/unique.jsonl and out/duplicates.jsonl. Without: the run's
    02-valid.jsonl into 03-unique.jsonl and 03-duplicates.jsonl."""
    from studio.curate.dedup import dedup_standalone, run_dedup

    earlier = [Path(a) for a in against or []]
    if file is not None:
        p = optional_project(project)
        return dedup_standalone(file, p, earlier, out, id_field, text_field, semantic, keep, show_progress)
    p = open_project(project or DEFAULT_PROJECT)
    r = open_run(p, run)
    result = run_dedup(p, r, earlier, semantic, keep, force, show_progress)
    result["run_dir"] = str(r.dir)
    return result


def tune(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    data: str | Path | None = None,
    force: bool = False,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Fine-tune the project's model on the run's 05-curated.jsonl (or `data`, any records JSONL): splits/,
    model/ and the manifest's `tune` entry. Skipped when settings and data are unchanged (unless `force`)."""
    from studio.train.tune import run_tune

    p = open_project(project)
    r = open_run(p, run)
    with r.locked():
        result = run_tune(p, r, data, force=force, show_progress=show_progress, say=say)
    result["run_dir"] = str(r.dir)
    return result


def evaluate(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    judge: bool | None = None,
    force: bool = False,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Score the tuned model beside its base on the test split into eval.json (`judge`: overrides
    train.eval.judge; the judge is the configured endpoint, else the bundled local model)."""
    from studio.train.evaluate import Judge, run_eval

    p = open_project(project)
    r = open_run(p, run)
    use_judge = p.train.eval.judge if judge is None else judge
    target = resolve_target(p, say) if use_judge else None
    with r.locked():
        result = run_eval(p, r, force, Judge(target.base_url, target.model, target.api_key) if target else None, say)
    result["run_dir"] = str(r.dir)
    return result


def serve_model(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    port: int | None = None,
    say: Say = say_stderr,
) -> tuple[Any, bool]:
    """Serve a run's tuned causal LM on the local OpenAI-compatible server (converted to GGUF once).
    `run`: a run name or a run folder. Returns (server, started)."""
    from studio.serve import gguf, llm

    folder = Path(run) if run and Path(run).is_dir() else open_run(open_project(project), run).dir
    model_dir = Run(folder).file("model")
    if not model_dir.exists():
        raise StudioError("no tuned model in this run: run `studio tune` first", folder)
    if (model_dir / "config.json").exists() and "ForSequenceClassification" in (model_dir / "config.json").read_text():
        raise StudioError("a classifier cannot be served as a chat model", model_dir)
    say(f"converting {model_dir} to GGUF (once per tuned model)")
    path = gguf.to_gguf(model_dir)
    return llm.serve(gguf=path, alias=f"{folder.parent.name}-{folder.name}", port=port)


def init(folder: str | Path, name: str | None = None, description: str = "", title: str | None = None) -> list[Path]:
    """Scaffold a new domain project in `folder`: project file, templates, schema. Returns the files."""
    from studio.scaffold import scaffold

    folder = Path(folder)
    return scaffold(folder, name or folder.resolve().name.lower().replace(" ", "-"), description, title)


def select_accepted(
    project: str | Path | Project = DEFAULT_PROJECT, run: str | None = None, force: bool = False
) -> dict:
    """05-curated.jsonl: the items accepted in review (or kept unreviewed), from 04-reviewed.jsonl."""
    from studio.dataset.curated import write_curated

    return write_curated(open_run(open_project(project), run), force)


def export(project: str | Path | Project = DEFAULT_PROJECT, run: str | None = None, say: Say = say_stderr) -> dict:
    """The curated dataset to share in run/dataset/: JSONL, Parquet, a `datasets` folder, OpenAI chat JSONL and
    a dataset card; pushed to the Hub when share.hub_repo is set."""
    from studio.dataset.export import export as write_export

    p = open_project(project)
    r = open_run(p, run)
    result = write_export(p, r, say)
    r.record_stage(
        "export",
        {
            "inputs": [r.file("curated").name],
            "outputs": ["dataset"],
            "counts": result["splits"],
            "seconds": result["seconds"],
            "complete": True,
        },
    )
    return result


def build_report(run_dir: str | Path, title: str = "") -> Path:
    """Write (or rebuild) report.html in a run folder and return its path."""
    from studio.report.html import build

    run = Run(run_dir)
    if not run.manifest_path.exists():
        raise StudioError("not a run folder (no manifest.json)", run.dir)
    return build(run, title)


STAGES = ("generate", "validate", "dedup", "review", "curate", "tune", "eval", "export", "report")


def review_stage(p: Project, r: Run, force: bool, say: Say) -> dict[str, Any]:
    """Review in the one-command run: `none` marks the items unreviewed; `push` sends a sample to Argilla and
    goes on (with the reviewers' decisions once there are any); `wait` waits for them."""
    from studio.review.pull import mark_unreviewed

    mode = p.review.mode
    if mode == "none":
        return mark_unreviewed(r, mode, force)
    pushed = review_push(p, r.name, show_progress=False, say=say)
    c, d = pushed["counts"], pushed["dataset"]
    say(
        f"review: {c['sampled']} of {c['unique']} items ({c['borderline']} borderline ones first) are in Argilla "
        f"dataset {d['name']}: {d['url']}"
    )
    if mode == "wait":
        return review_pull(
            p,
            r.name,
            wait=True,
            target=p.review.wait_target,
            timeout=p.review.wait_timeout_s,
            show_progress=False,
            say=say,
        )
    answered = review_pull(p, r.name, show_progress=False, say=say)
    if answered["counts"]["reviewed"]:
        return answered
    return mark_unreviewed(r, mode, force=True)


def run(
    project: str | Path | Project = DEFAULT_PROJECT,
    n: int | None = None,
    run: str | None = None,
    review: str | None = None,
    from_stage: str | None = None,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """The whole loop: generate, validate and clean, dedup, review, curate, tune, evaluate, export, report.
    A stage whose inputs and settings are unchanged is skipped; `from_stage` forces it and every later one."""
    import time

    if from_stage is not None and from_stage not in STAGES:
        raise StudioError(f"unknown stage '{from_stage}' (one of {', '.join(STAGES)})", None, "--from")
    p = open_project(project, **{"generate.n": n, "review.mode": review})
    r = open_run(p, run)
    first_forced = STAGES.index(from_stage) if from_stage else len(STAGES)
    steps = {
        "generate": lambda force: generate_stage(p, r, force, show_progress, say),
        "validate": lambda force: validate(p, r.name, force=force),
        "dedup": lambda force: dedup(p, r.name, force=force, show_progress=show_progress),
        "review": lambda force: review_stage(p, r, force, say),
        "curate": lambda force: select_accepted(p, r.name, force),
        "tune": lambda force: tune(p, r.name, force=force, show_progress=show_progress, say=say),
        "eval": lambda force: evaluate(p, r.name, force=force, say=say),
        "export": lambda force: export(p, r.name, say),
        "report": lambda force: {"path": str(build_report(r.dir, f"{p.domain.title}: run {r.name}"))},
    }
    results: dict[str, Any] = {"run_dir": str(r.dir)}
    for i, stage in enumerate(STAGES):
        t0 = time.monotonic()
        say(f"[{i + 1}/{len(STAGES)}] {stage}")
        result = steps[stage](i >= first_forced)
        results[stage] = result
        state = "skipped: inputs and settings unchanged" if result.get("skipped") else "done"
        say(f"[{i + 1}/{len(STAGES)}] {stage}: {state} ({time.monotonic() - t0:.1f} s)")
    return results


def generate_stage(p: Project, r: Run, force: bool, show_progress: bool, say: Say) -> dict[str, Any]:
    """Generate, unless the stage finished with the same settings (then the local model is not even started)."""
    from studio.generation import stage

    if not force and r.is_current("generate", stage.generate_fingerprint(p, resolve_target(p, say, start=False))):
        return {**r.stage("generate"), "skipped": True}
    return generate(p, run=r.name, show_progress=show_progress, say=say)


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
