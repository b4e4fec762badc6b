"""The Python API under the CLI: each stage by itself, and the whole loop.

    import studio
    result = studio.generate("studio.yaml", n=20)

Stages hand work to each other only as files in the run folder, listed in the manifest.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import RunStopped, StudioError
from studio.project import DEFAULT_PROJECT, Project, load_project
from studio.runs import FILES, Run
from studio.stage import Stage
from studio.target import Target

Say = Callable[[str], None]


def say_stderr(message: str) -> None:
    print(f"studio: {message}", file=sys.stderr, flush=True)


def open_project(project: str | Path | Project = DEFAULT_PROJECT, **overrides: Any) -> Project:
    if isinstance(project, Project):
        return project
    return load_project(project, overrides)


def open_run(project: Project, run: str | None = None) -> Run:
    return Run.open(project.output_dir, project.domain.name, run)


def resolve_target(project: Project, say: Say = say_stderr, start: bool = True) -> Target:
    """The endpoint to generate with: the configured one, or the bundled local model (started if needed;
    with start=False, named without starting it)."""
    e = project.endpoint
    if e.base_url:
        if not e.model:
            raise StudioError("endpoint.model is required when endpoint.base_url is set", None, "endpoint.model")
        urls = [e.base_url] if isinstance(e.base_url, str) else e.base_url
        kind = "loopback" if all(Target.kind_of(u) == "loopback" for u in urls) else "remote"
        fleet = tuple(urls) if len(urls) > 1 else ()
        return Target(urls[0], e.model, os.environ.get(e.api_key_env) or None, kind, fleet)
    from studio.serve import llm

    if not start:
        return Target("http://127.0.0.1/v1", llm.BUNDLED_ALIAS, None, "local")
    server, started = llm.serve()
    say(
        f"no endpoint configured: {'started' if started else 'using'} the bundled local model "
        f"{server.model} at {server.base_url} (stop it with `studio llm stop`)"
    )
    return Target(server.base_url, server.model, None, "local")


def judge_target(project: Project, say: Say = say_stderr, start: bool = True) -> Target | None:
    """The judge's endpoint: judge.base_url, else the project's endpoint; None when there is only the bundled
    model (too small to judge) and judge.force is off, or the judge is off."""
    j = project.judge
    if not j.enabled:
        return None
    if j.base_url:
        if not j.model:
            raise StudioError("judge.model is required when judge.base_url is set", None, "judge.model")
        return Target(j.base_url, j.model, os.environ.get(j.api_key_env) or None, Target.kind_of(j.base_url))
    if not project.endpoint.base_url and not j.force:
        return None
    t = resolve_target(project, say, start)
    return dataclasses.replace(t, model=j.model) if j.model else t


def builders(
    project: Project,
    say: Say = say_stderr,
    *,
    retry_rejected: bool = False,
    clean: bool = True,
    workers: int = 1,
    against: list[Path] | None = None,
    semantic: bool | None = None,
    keep: str | None = None,
    size: int | None = None,
    fraction: float | None = None,
    review_mode: str | None = None,
    target: float | None = None,
    timeout: float | None = None,
    data: str | Path | None = None,
    judge: bool | None = None,
) -> dict[str, Callable[[], Stage]]:
    """Every stage of the loop by name, in order, each made from the project and the call on demand: the one
    place that knows the order. Each imports its own module, so a command pays only for the stage it runs.
    Review mode `none` has no push."""

    def generate() -> Stage:
        from studio.generation.stage import GenerateStage

        return GenerateStage(
            resolve_target(project, say, start=False), lambda: resolve_target(project, say), retry_rejected
        )

    def validate() -> Stage:
        from studio.quality.validate import ValidateStage

        return ValidateStage(clean, workers)

    def dedup() -> Stage:
        from studio.quality.dedup import DedupStage

        return DedupStage(against, semantic, keep)

    def judge_stage() -> Stage:
        from studio.quality.judge import JudgeStage

        return JudgeStage(judge_target(project, say, start=False), lambda: judge_target(project, say))

    def push() -> Stage:
        from studio.review.push import PushStage

        return PushStage(size, fraction)

    def review() -> Stage:
        from studio.review.pull import ReviewStage

        return ReviewStage(mode, target, timeout)

    def curate() -> Stage:
        from studio.dataset.curated import CurateStage

        return CurateStage()

    def tune() -> Stage:
        from studio.train.tune import TuneStage

        return TuneStage(data)

    def evaluate() -> Stage:
        from studio.train.evaluate import EvalStage

        return EvalStage(project.train.eval.judge if judge is None else judge, lambda: judge_target(project, say))

    def export() -> Stage:
        from studio.dataset.export import ExportStage

        return ExportStage()

    def report() -> Stage:
        from studio.report.html import ReportStage

        return ReportStage()

    mode = review_mode or project.review.mode
    steps = {"generate": generate, "validate": validate, "dedup": dedup, "judge": judge_stage}
    steps |= {"push": push, "review": review}
    steps |= {"curate": curate, "tune": tune, "eval": evaluate, "export": export, "report": report}
    if mode == "none":
        del steps["push"]
    return steps


def stages(project: Project, say: Say = say_stderr, **options: Any) -> list[Stage]:
    """Every stage of the loop, made, in order."""
    return [build() for build in builders(project, say, **options).values()]


def makers(project: Project, say: Say = say_stderr) -> Callable[[], dict[str, str]]:
    """For each run file, the command whose stage writes it: asked for only when a line must say what to run
    first, since it makes every stage."""
    return lambda: {key: s.command for s in stages(project, say) for key in s.outputs}


def run_one(
    name: str,
    project: Project,
    run: Run,
    force: bool = False,
    allow_partial: bool = False,
    show_progress: bool = True,
    say: Say = say_stderr,
    **options: Any,
) -> dict[str, Any]:
    """One stage by its name, through the engine; returns its manifest entry (and the run folder)."""
    from studio import engine

    stage = builders(project, say, **options)[name]()
    entry = engine.run_stage(stage, project, run, makers(project, say), force, allow_partial, say, show_progress)
    return {**entry, "run_dir": str(run.dir), "files": {key: str(run.file(key)) for key in stage.outputs}}


def generate(
    project: str | Path | Project = DEFAULT_PROJECT,
    n: int | None = None,
    run: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    show_progress: bool = True,
    dry_run: bool = False,
    retry_rejected: bool = False,
    force: bool = False,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Generate items into the run folder; resumes where an earlier attempt stopped, and asks again for the
    items that got no reply (`retry_rejected`: also for the items rejected by the schema). With dry_run,
    return the plan and its estimated tokens and cost, and send nothing."""
    p = open_project(project, **{"endpoint.base_url": base_url, "endpoint.model": model, "generate.n": n})
    r = open_run(p, run)
    if dry_run:
        from studio.generation import stage

        return {**stage.dry_run(p, r, resolve_target(p, say, start=False)), "run_dir": str(r.dir)}
    forced = force or retry_rejected
    return run_one("generate", p, r, forced, show_progress=show_progress, say=say, retry_rejected=retry_rejected)


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


def review_push(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    size: int | None = None,
    fraction: float | None = None,
    force: bool = False,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Push a sample of the run's unique items to Argilla (the local one unless review.api_url is set)."""
    p = open_project(project)
    return run_one(
        "push", p, open_run(p, run), force, show_progress=show_progress, say=say, size=size, fraction=fraction
    )


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
    p = open_project(project)
    mode = "wait" if wait else "pull"
    options = {"review_mode": mode, "target": target, "timeout": timeout}
    return run_one("review", p, open_run(p, run), show_progress=show_progress, say=say, **options)


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
    allow_partial: bool = False,
    engine: str | None = None,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Validate and clean. With `file`: any JSONL into out/valid.jsonl and out/invalid.jsonl (default: the
    file's folder). Without: the run's 01-generated.jsonl into 02-valid.jsonl and 02-invalid.jsonl.
    `workers` > 1 checks large files in that many processes; `engine` ray: as a Ray Data job (overrides the
    project's `engine`)."""
    from studio.quality.validate import validate_standalone

    if file is not None:
        p = optional_project(project)
        return validate_standalone(file, p, schema, out, id_field, clean, workers, engine, say)
    p = open_project(project or DEFAULT_PROJECT, engine=engine)
    return run_one("validate", p, open_run(p, run), force, allow_partial, say=say, clean=clean, workers=workers)


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
    allow_partial: bool = False,
    say: Say = say_stderr,
    engine: str | None = None,
) -> dict[str, Any]:
    """Drop exact, near and semantic duplicates, also of earlier corpora (`against`: JSONL files or run
    folders). With `file`: any JSONL into out/unique.jsonl and out/duplicates.jsonl. Without: the run's
    02-valid.jsonl into 03-unique.jsonl and 03-duplicates.jsonl. `engine` ray: MinHash signatures as a Ray
    Data job (overrides the project's `engine`)."""
    from studio.quality.dedup import dedup_standalone

    earlier = [Path(a) for a in against or []]
    if file is not None:
        p = optional_project(project)
        return dedup_standalone(file, p, earlier, out, id_field, text_field, semantic, keep, show_progress, say, engine)
    p = open_project(project or DEFAULT_PROJECT, engine=engine)
    options = {"against": earlier, "semantic": semantic, "keep": keep}
    return run_one("dedup", p, open_run(p, run), force, allow_partial, show_progress, say, **options)


def judge(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    force: bool = False,
    allow_partial: bool = False,
    show_progress: bool = True,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """03-judged.jsonl and 03-judge-rejected.jsonl: the on-topic and on-label checks (embeddings), then the LLM
    judge's rubric scores and threshold (the judge's endpoint; it steps aside when there is only the bundled
    model)."""
    p = open_project(project)
    return run_one("judge", p, open_run(p, run), force, allow_partial, show_progress, say)


def curate(
    project: str | Path | Project = DEFAULT_PROJECT, run: str | None = None, force: bool = False
) -> dict[str, Any]:
    """05-curated.jsonl: the items accepted in review (or kept unreviewed), from 04-reviewed.jsonl."""
    p = open_project(project)
    return run_one("curate", p, open_run(p, run), force)


def tune(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    data: str | Path | None = None,
    force: bool = False,
    show_progress: bool = True,
    allow_partial: bool = False,
    say: Say = say_stderr,
    devices: int | None = None,
) -> dict[str, Any]:
    """Fine-tune the project's model on the run's 05-curated.jsonl (or `data`, any records JSONL): splits/,
    model/ and the manifest's `tune` entry. Skipped when settings and data are unchanged (unless `force`).
    `devices`: train in that many processes (overrides train.devices)."""
    p = open_project(project, **{"train.devices": devices})
    return run_one("tune", p, open_run(p, run), force, allow_partial, show_progress, say, data=data)


def evaluate(
    project: str | Path | Project = DEFAULT_PROJECT,
    run: str | None = None,
    judge: bool | None = None,
    force: bool = False,
    say: Say = say_stderr,
) -> dict[str, Any]:
    """Score the tuned model beside its base on the test split into eval.json (`judge`: overrides
    train.eval.judge; the judge is the configured endpoint, else the bundled local model)."""
    p = open_project(project)
    r = open_run(p, run)
    entry = run_one("eval", p, r, force, say=say, judge=judge)
    return {**entry, **json.loads(r.file("eval").read_text())}  # eval.json's full figures over the summary


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


def init(
    folder: str | Path,
    name: str | None = None,
    description: str = "",
    title: str | None = None,
    task: str = "chat",
    labels: list[str] | None = None,
    propose: bool = False,
    base_url: str | None = None,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    say: Say = say_stderr,
) -> list[Path]:
    """Scaffold a new domain project in `folder` for a task (text, chat, classification with its labels):
    project file, templates, schema. Returns the files. With `propose`, the endpoint at `base_url` proposes the
    axes and the schema (the key is read from the environment variable `api_key_env`); when it cannot, `say`
    why and write the plain scaffold."""
    from studio.scaffold import scaffold

    endpoint = None
    if propose:
        if not base_url or not model:
            raise StudioError("needs the endpoint to ask: --base-url URL and --model NAME", None, "--propose")
        from studio.scaffold.propose import Endpoint

        endpoint = Endpoint(base_url, model, api_key_env)
    elif base_url or model:
        raise StudioError("only with --propose (they name the endpoint it asks)", None, "--base-url, --model")
    folder = Path(folder)
    name = name or folder.resolve().name.lower().replace(" ", "-")
    return scaffold(folder, name, description, title, task, labels, endpoint, say)


def export(
    project: str | Path | Project = DEFAULT_PROJECT, run: str | None = None, force: bool = False, say: Say = say_stderr
) -> dict[str, Any]:
    """The curated dataset to share in run/dataset/: JSONL, Parquet, a `datasets` folder, OpenAI chat JSONL and
    a dataset card; pushed to the Hub when share.hub_repo is set (only when the dataset changed)."""
    p = open_project(project)
    return run_one("export", p, open_run(p, run), force, say=say)


def build_report(project: str | Path | Project = DEFAULT_PROJECT, run: str | None = None) -> Path:
    """Write (or rebuild) report.html in a run folder (`run`: a name or a folder) and return its path."""
    p = open_project(project)
    r = Run(run) if run and Path(run).is_dir() else open_run(p, run)
    if not r.manifest_path.exists():
        raise StudioError("not a run folder (no manifest.json)", r.dir)
    return Path(run_one("report", p, r)["path"])


def run(
    project: str | Path | Project = DEFAULT_PROJECT,
    n: int | None = None,
    run: str | None = None,
    review: str | None = None,
    from_stage: str | None = None,
    allow_partial: bool = False,
    show_progress: bool = True,
    say: Say = say_stderr,
    target: int | None = None,
) -> dict[str, Any]:
    """The whole loop: generate, validate and clean, dedup, review (push, decisions), curate, tune, evaluate,
    export, report. A stage whose inputs and settings are unchanged is skipped; `from_stage` forces it and
    every later one. A stage that ends incomplete (a budget reached, items without a reply) stops the run
    with RunStopped, after the report is made; `allow_partial` goes on with what there is."""
    from studio import engine

    p = open_project(project, **{"generate.n": n, "generate.target": target, "review.mode": review})
    every = stages(p, say)
    names = [s.name for s in every]
    if from_stage is not None and from_stage not in names:
        raise StudioError(f"unknown stage '{from_stage}' (this run has: {', '.join(names)})", None, "--from")
    r = open_run(p, run)
    try:
        if p.generate.target:
            p = until_target(p, r, from_stage, allow_partial, say, show_progress)
            every = stages(p, say)
            from_stage = None if from_stage in GATE else from_stage  # forced in the first round already
        results = engine.run_stages(p, r, every, makers(p, say), from_stage, allow_partial, say, show_progress)
    except RunStopped:
        # The report shows what happened up to the stop; it reads files, so it never hides the stop.
        engine.run_stage(every[-1], p, r, makers(p, say), say=say, show_progress=show_progress)
        raise
    return {**results, "run_dir": str(r.dir)}


GATE = ("generate", "validate", "dedup", "judge")


def until_target(
    p: Project, r: Run, from_stage: str | None, allow_partial: bool, say: Say, show_progress: bool
) -> Project:
    """generate.target: rounds of generate, validate, dedup and judge, each planning more items from the yield so far,
    until the target passes the gate. Returns the project with the plan that did it (the later stages run on
    it); a round that adds no passing item, or generate.max_rounds, stops the run and says which."""
    from studio import engine

    g = p.generate
    # A later run starts where the last one ended: its plan holds every round made so far.
    made = ((r.stage("generate") or {}).get("counts") or {}).get("planned") or 0
    n, before = max(g.n or g.target, made), -1
    for round_no in range(1, g.max_rounds + 1):
        q = p.model_copy(update={"generate": g.model_copy(update={"n": n})})
        gate = [build() for name, build in builders(q, say).items() if name in GATE]
        forced = from_stage if round_no == 1 and from_stage in GATE else None
        engine.run_stages(q, r, gate, makers(q, say), forced, allow_partial, say, show_progress)
        passed = count_lines(r.file("judged")) or 0
        say(f"generate.target: round {round_no}: {n} planned, {passed} passed the gate ({g.target} wanted)")
        if passed >= g.target:
            return q
        if passed <= before:
            raise RunStopped("generate", f"a round added no item that passed the gate ({passed} of {g.target})")
        before = passed
        n += round_size(g.target - passed, passed / n)
    raise RunStopped(
        "generate",
        f"generate.max_rounds ({g.max_rounds}) reached with {passed} of {g.target} items passing the gate; "
        "raise it (or look at what the gate rejects in report.html) to go on",
    )


def round_size(missing: int, rate: float) -> int:
    """Items to plan for `missing` more at the yield measured so far (a tenth at least, so one bad round cannot
    explode the plan), with two standard deviations of a binomial draw to spare: a round planned at the mean
    falls short about half the time, and one that adds no passing item stops the run (a demo planned 3 items
    for the 1 missing at a yield of 0.43, and none of them passed)."""
    p = max(rate, 0.1)
    spread = 2 * math.sqrt(p * (1 - p))
    # The smallest m with m*p - 2*sqrt(m*p*(1-p)) >= missing: a quadratic in sqrt(m).
    root = (spread + math.sqrt(spread**2 + 4 * p * missing)) / (2 * p)
    return math.ceil(root**2)


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
