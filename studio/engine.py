"""The stage engine: the one place that locks, skips, stages, commits, records and stops.

For each stage: its fingerprint (settings and the content of its input files); skipped when the manifest
says it finished with that fingerprint and its outputs are there; else recorded as started, run into a
fresh staging folder, its outputs moved into the run folder, and its outcome recorded (the engine is the
manifest's only writer). A stage that ends incomplete stops the run, and no stage reads the output of an
incomplete one unless the user allows partial input.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import RunStopped, StudioError
from studio.project import Project
from studio.records import sync_folder
from studio.runs import FILES, Run
from studio.stage import Context, Say, Stage

STOPPED_EXIT = 3  # the CLI's exit code when a stage stopped early (2: bad input or a failed stage)


def run_stages(
    project: Project,
    run: Run,
    stages: list[Stage],
    makers: Callable[[], dict[str, str]],
    force_from: str | None = None,
    allow_partial: bool = False,
    say: Say = print,
    show_progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """The stages in order under one lock for the whole run; `force_from` runs that stage and every later
    one even if unchanged. Raises RunStopped after recording a stage that ended incomplete."""
    names = [s.name for s in stages]
    forced_at = names.index(force_from) if force_from else len(stages)
    results: dict[str, dict[str, Any]] = {}
    with run.locked():
        for i, stage in enumerate(stages):
            t0 = time.monotonic()
            say(f"[{i + 1}/{len(stages)}] {stage.name}")
            entry = execute(stage, project, run, makers, i >= forced_at, allow_partial, say, show_progress)
            results[stage.name] = entry
            state = "skipped: inputs and settings unchanged" if entry.get("skipped") else "done"
            if not entry["complete"]:
                state = f"stopped: {entry['stopped']}"
            say(f"[{i + 1}/{len(stages)}] {stage.name}: {state} ({time.monotonic() - t0:.1f} s)")
            if not entry["complete"] and not allow_partial:
                raise RunStopped(stage.name, entry["stopped"])
    return results


def run_stage(
    stage: Stage,
    project: Project,
    run: Run,
    makers: Callable[[], dict[str, str]],
    force: bool = False,
    allow_partial: bool = False,
    say: Say = print,
    show_progress: bool = True,
) -> dict[str, Any]:
    """One stage by itself (`studio validate`, ...), under the run's lock. An incomplete outcome is returned
    (complete False, `stopped` saying why), not raised: the caller reports it."""
    with run.locked():
        return execute(stage, project, run, makers, force, allow_partial, say, show_progress)


def execute(
    stage: Stage,
    project: Project,
    run: Run,
    makers: Callable[[], dict[str, str]],
    force: bool,
    allow_partial: bool,
    say: Say,
    show_progress: bool,
) -> dict[str, Any]:
    """Skip or run one stage; the caller holds the lock."""
    sources = stage.sources(project, run)
    check_inputs(stage, run, sources, makers, allow_partial)
    fingerprint = run.fingerprint({"stage": stage.name, "settings": stage.settings(project)}, sources)
    if not force and not stage.volatile(project) and run.is_current(stage.name, fingerprint):
        return {**run.stage(stage.name), "skipped": True}
    entry: dict[str, Any] = {
        "fingerprint": fingerprint,
        "inputs": [name_in(run, p) for p in sources],
        "outputs": [FILES[key] for key in stage.outputs],
    }
    # Recorded first: a stage killed part-way stays incomplete, and nothing downstream trusts its files.
    run.record_stage(stage.name, {**entry, "complete": False, "stopped": "started and did not finish (killed?)"})
    staging = run.dir / ".staging" / stage.name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.monotonic()
    ctx = Context(project, run, staging, fingerprint, force, say, show_progress)
    try:
        outcome = stage.run(ctx)
    except BaseException as e:
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else f"failed: {e}"
        run.record_stage(stage.name, {**entry, "complete": False, "stopped": reason})
        raise
    commit(run, staging, stage.outputs)
    # The outputs it wrote this time (an optional one, like 01-unplanned.jsonl, may be absent): what a later
    # skip checks is there.
    entry["outputs"] = [FILES[key] for key in stage.outputs if run.file(key).exists()]
    entry.update(outcome.details)
    entry.update(
        counts=outcome.counts,
        complete=outcome.complete,
        stopped=outcome.why,
        seconds=round(time.monotonic() - started, 2),
    )
    run.record_stage(stage.name, entry)
    return entry


def check_inputs(
    stage: Stage, run: Run, sources: list[Path], makers: Callable[[], dict[str, str]], allow_partial: bool
) -> None:
    """Every declared input is there, and none is the output of a stage that did not finish."""
    for key in stage.inputs:
        if not run.file(key).exists() and run.file(key) in sources:
            maker = makers().get(key, "the stage that makes it")
            raise StudioError(f"not made yet: run `{maker}` first", run.file(key))
    if allow_partial:
        return
    stages = run.manifest()["stages"]
    for path in sources:
        for name, entry in stages.items():
            if name != stage.name and not entry.get("complete", True) and path.name in entry.get("outputs", []):
                command = next((c for k, c in makers().items() if FILES[k] == path.name), None)
                raise RunStopped(
                    stage.name,
                    f"{path.name} is partial ({name} {entry.get('stopped') or 'did not finish'}); "
                    "finish that stage first, or pass --allow-partial to go on with what there is",
                    command,
                )


def commit(run: Run, staging: Path, outputs: tuple[str, ...]) -> None:
    """Move each output from the staging folder into the run folder (a rename each); a declared output the
    stage did not write this time is removed, since the old one no longer follows from the inputs."""
    for key in outputs:
        made, final = staging / FILES[key], run.file(key)
        if final.is_dir() and made.exists():
            old = staging / f".replaced-{key}"
            final.rename(old)
        elif final.is_dir():
            shutil.rmtree(final)
        elif final.exists() and not made.exists():
            final.unlink()
        if made.exists():
            made.replace(final)
    sync_folder(run.dir)
    shutil.rmtree(staging, ignore_errors=True)


def name_in(run: Run, path: Path) -> str:
    """A file's name when it is in the run folder, else its path (a corpus compared against, a --data file)."""
    return path.name if path.parent == run.dir else str(path)
