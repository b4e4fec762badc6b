"""The face: parses arguments, calls one stage or the pipeline, prints progress and one-line errors.

Bad input (a StudioError) is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio import pipeline
from studio.errors import StudioError
from studio.project import DEFAULT_PROJECT
from studio.runs import FILES


def _project_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        default=DEFAULT_PROJECT,
        metavar="FILE",
        help="the domain project file (default: %(default)s)",
    )
    p.add_argument("--run", metavar="NAME", help="the run folder under outputs/<domain>/ (default: default)")


def _endpoint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", metavar="URL", help="an OpenAI-compatible endpoint (overrides the project file)")
    p.add_argument("--model", metavar="NAME", help="the model to ask (overrides the project file)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="A synthetic-data-first dataset studio: generate domain items with an LLM, validate, "
        "deduplicate, review in Argilla, curate, fine-tune and evaluate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    g = sub.add_parser(
        "generate",
        help="generate items from the templates into the run folder (resumable)",
        description="Generate items from the project's templates and axes through an "
        "OpenAI-compatible endpoint (the bundled local model when none is configured). "
        "Re-running resumes: answered requests are never sent again.",
    )
    _project_flags(g)
    _endpoint_flags(g)
    g.add_argument("--n", type=int, metavar="N", help="items to plan (overrides generate.n)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    s = sub.add_parser(
        "status",
        help="counts per stage of a run",
        description="Print the funnel of a run: how many items each stage holds, and what the manifest recorded.",
    )
    s.add_argument("run", nargs="?", metavar="RUN", help="a run name or a run folder (default: the default run)")
    s.add_argument("--project", default=DEFAULT_PROJECT, metavar="FILE", help="the domain project file")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_status)

    llm = sub.add_parser(
        "llm",
        help="the local OpenAI-compatible LLM server (bundled model)",
        description="Start, stop or inspect the local llama.cpp server that serves the "
        "bundled SmolLM2-135M-Instruct on 127.0.0.1.",
    )
    llm_sub = llm.add_subparsers(dest="llm_command", metavar="ACTION", required=True)
    ls = llm_sub.add_parser("serve", help="start the server (or report the running one)")
    ls.add_argument("--port", type=int, help="port on 127.0.0.1 (default 8765, or a free one)")
    ls.add_argument("--gguf", type=Path, help="serve this GGUF file instead of the bundled model")
    ls.add_argument("--alias", help="the model name clients use")
    ls.set_defaults(func=cmd_llm_serve)
    llm_sub.add_parser("stop", help="stop the server").set_defaults(func=cmd_llm_stop)
    llm_sub.add_parser("status", help="is it running, where, with which model").set_defaults(func=cmd_llm_status)
    return parser


def out(text: str = "") -> None:
    print(text, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    result = pipeline.generate(
        args.project,
        n=args.n,
        run=args.run,
        base_url=args.base_url,
        model=args.model,
        show_progress=not args.no_progress,
    )
    c = result["counts"]
    run_dir = Path(result["run_dir"])
    new = c["accepted"] + c["rejected"]
    out(
        f"generated {new} item(s) in {result['seconds']:.1f} s: {c['accepted']} accepted "
        f"({c['first_try']} on the first try, {c['repaired']} after a repair), {c['rejected']} rejected"
        + (f"; {c['done_before']} were done before" if c["done_before"] else "")
    )
    tokens = result["tokens"]
    cost = result["cost_usd"]
    out(f"tokens: {tokens['in']:,} in, {tokens['out']:,} out" + (f"; cost ${cost:.4f}" if cost is not None else ""))
    if result["stopped"]:
        out(f"stopped early: {result['stopped']}. Raise it in the project file and run the same command to go on.")
    elif not result["complete"]:
        out("some items are still pending: run the same command again to finish them.")
    out(f"items:    {run_dir / '01-generated.jsonl'}")
    out(f"rejected: {run_dir / '01-rejected.jsonl'} (each with its reason)")
    out(f"next:     studio status {run_dir}")
    return 0


def _run_dir(args: argparse.Namespace) -> Path:
    if args.run and Path(args.run).is_dir():
        return Path(args.run)
    project = pipeline.open_project(args.project)
    return pipeline.open_run(project, args.run).dir


def cmd_status(args: argparse.Namespace) -> int:
    info = pipeline.status(_run_dir(args))
    if args.json:
        out(json.dumps(info, indent=2, default=str))
        return 0
    out(f"run {info['run']}")
    plan = info["stages"].get("generate", {}).get("counts", {}).get("planned")
    if plan is not None:
        out(f"  {'planned':<11}{plan:>7}")
    for key, n in info["files"].items():
        if n is not None:
            out(f"  {key:<11}{n:>7}   {FILES[key]}")
    for name, stage in info["stages"].items():
        state = "complete" if stage.get("complete", True) else "incomplete"
        out(f"  stage {name}: {state}, {stage.get('seconds', 0):.1f} s, recorded {stage.get('recorded_at', '?')}")
    return 0


def cmd_llm_serve(args: argparse.Namespace) -> int:
    from studio.serve import llm

    kwargs: dict[str, Any] = {"port": args.port, "gguf": args.gguf}
    if args.alias:
        kwargs["alias"] = args.alias
    server, started = llm.serve(**kwargs)
    out(f"{'started' if started else 'already running'}: {server.model} at {server.base_url} (pid {server.pid})")
    out(f"log: {server.log}")
    return 0


def cmd_llm_stop(args: argparse.Namespace) -> int:
    from studio.serve import llm

    out("stopped" if llm.stop() else "not running")
    return 0


def cmd_llm_status(args: argparse.Namespace) -> int:
    from studio.serve import llm

    server = llm.status()
    if server is None:
        out("not running (start it with `studio llm serve`)")
        return 1
    out(f"running: {server.model} at {server.base_url} (pid {server.pid}), serving {server.gguf}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StudioError as e:
        print(f"studio: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
