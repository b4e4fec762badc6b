"""The face: parses arguments, calls one stage or the pipeline, prints progress and one-line errors.

Bad input (a StudioError) is one line on stderr and exit code 2, never a traceback.

Each command's parser is built by its `add_<command>(sub)`, just above its handler `cmd_<command>`;
`build_parser()` only calls them, in the order `studio --help` lists the commands.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from studio import engine, pipeline
from studio.errors import RunStopped, StudioError
from studio.project import DEFAULT_PROJECT
from studio.runs import FILES
from studio.scaffold import TASKS


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


def _gate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        type=Path,
        metavar="FILE",
        help=f"the domain project file: schema and settings (default: {DEFAULT_PROJECT} if present)",
    )
    p.add_argument("--run", metavar="NAME", help="the run folder under outputs/<domain>/, when no FILE is given")
    p.add_argument("--out", type=Path, metavar="DIR", help="where a FILE's results go (default: the FILE's folder)")
    p.add_argument("--id-field", default="id", metavar="F", help="the key holding a plain line's id (default: id)")
    p.add_argument("--force", action="store_true", help="run again even if the run's stage is up to date")
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        help="ray: run as Ray Data jobs (a local Ray, or the cluster RAY_ADDRESS names); default: the project's",
    )
    _partial_flag(p)


def _partial_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="go on even when an earlier stage stopped before its end (a budget, items without a reply)",
    )


def out(text: str = "") -> None:
    print(text, flush=True)


def progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only: in a log they are escape codes and fragments."""
    return not args.no_progress and sys.stderr.isatty()


def stopped(args: argparse.Namespace, entry: dict[str, Any]) -> int:
    """0 for a complete stage; else the line that says why it stopped and what continues, and exit 3."""
    if entry["complete"]:
        return 0
    print(
        f"studio: {args.command} stopped: {entry['stopped']}; then run `{same_command(args)}` to go on", file=sys.stderr
    )
    return engine.STOPPED_EXIT


def same_command(args: argparse.Namespace) -> str:
    """The command that continues: the one given, without the flags that force work anew."""
    words = ["studio", args.command, *([args.review_command] if hasattr(args, "review_command") else [])]
    if getattr(args, "project", None) and str(args.project) != DEFAULT_PROJECT:
        words += ["--project", str(args.project)]
    if getattr(args, "run", None):
        words += ["--run", str(args.run)]
    return " ".join(shlex.quote(w) for w in words)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="A synthetic-data-first dataset studio: generate domain items with an LLM, validate, "
        "deduplicate, review in Argilla, curate, fine-tune and evaluate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_generate(sub)
    add_validate(sub)
    add_dedup(sub)
    add_judge(sub)
    add_run(sub)
    add_report(sub)
    add_export(sub)
    add_curate(sub)
    add_status(sub)
    add_tune(sub)
    add_eval(sub)
    add_init(sub)
    add_llm(sub)
    add_review(sub)
    return parser


def add_generate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="generate items from the templates into the run folder (resumable)",
        description="Generate items from the project's templates and axes through an "
        "OpenAI-compatible endpoint (the bundled local model when none is configured). "
        "Re-running resumes: answered requests are never sent again.",
    )
    _project_flags(p)
    _endpoint_flags(p)
    p.add_argument("--n", type=int, metavar="N", help="items to plan (overrides generate.n)")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none either when stderr is no terminal)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, its tokens and cost; send nothing")
    p.add_argument(
        "--retry-rejected",
        action="store_true",
        help="ask again (with a new seed) for the items the schema rejected after their repair; items that got "
        "no reply are always asked again",
    )
    p.add_argument("--force", action="store_true", help="run the stage even if it is up to date")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    result = pipeline.generate(
        args.project,
        n=args.n,
        run=args.run,
        base_url=args.base_url,
        model=args.model,
        show_progress=progress(args),
        dry_run=args.dry_run,
        retry_rejected=args.retry_rejected,
        force=args.force,
    )
    if args.dry_run:
        return print_plan(result)
    c = result["counts"]
    run_dir = Path(result["run_dir"])
    if result.get("skipped"):
        out("generate is up to date (same plan, templates, schema and endpoint); --force runs it again")
    else:
        out(
            f"made {c['made']} item(s) in {result['seconds']:.1f} s ({c['first_try']} accepted on the first try, "
            f"{c['repaired']} after a repair, {c['requests']} request(s) sent)"
            + (f"; {c['done_before']} were done before" if c["done_before"] else "")
            + (f"; {c['stale']} made again (their template or parameters changed)" if c["stale"] else "")
        )
    out(
        f"the run holds {c['planned']} planned item(s): {c['accepted']} accepted, {c['rejected']} rejected"
        + (f" ({c['retryable']} for want of a reply)" if c["retryable"] else "")
        + (f", {c['pending']} not made yet" if c["pending"] else "")
        + (f"; {c['unplanned']} made before are set aside in {FILES['unplanned']}" if c["unplanned"] else "")
    )
    tokens = result["tokens"]
    cost = result["cost_usd"]
    out(f"tokens: {tokens['in']:,} in, {tokens['out']:,} out" + (f"; cost ${cost:.4f}" if cost is not None else ""))
    out(f"items:    {run_dir / FILES['generated']}")
    out(f"rejected: {run_dir / FILES['rejected']} (each with its reason)")
    out(f"next:     studio status {run_dir}")
    return stopped(args, result)


def print_plan(plan: dict[str, Any]) -> int:
    cost = plan["cost_usd_max"]
    out(f"plan for {plan['run_dir']} ({plan['mode']} requests to {plan['model']} at {plan['endpoint']}):")
    out(f"  items planned         {plan['planned']:>12,}")
    out(f"  already done          {plan['done']:>12,}")
    out(f"  requests to send      {plan['requests']:>12,}   (repairs may add up to as many again)")
    out(f"  input tokens (est.)   {plan['tokens_in']:>12,}   (about 4 characters a token)")
    out(f"  output tokens (max)   {plan['tokens_out_max']:>12,}   (max_tokens per request)")
    out(f"  cost at most          {'$' + format(cost, ',.4f') if cost is not None else 'no price for this model':>12}")
    out("nothing was sent. Run without --dry-run to generate.")
    return 0


def add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check items against the domain schema and clean them (a run's, or any JSONL file)",
        description="Check every line against the domain's JSON Schema (Draft 2020-12, formats checked), "
        "normalise and clean it, and apply the heuristic filters of the project file (quality.clean). "
        "With FILE: write valid.jsonl and invalid.jsonl into --out. Without: the run's 01-generated.jsonl "
        "into 02-valid.jsonl and 02-invalid.jsonl. Broken lines are reported by number, never skipped.",
    )
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="a JSONL file (default: the run's items)")
    _gate_flags(p)
    p.add_argument("--schema", type=Path, metavar="S", help="the JSON Schema (default: the project's)")
    p.add_argument("--no-clean", action="store_true", help="only check the schema: no cleaning, no filters")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes for a large file (default: 1)")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    result = pipeline.validate(
        args.project,
        run=args.run,
        file=args.file,
        schema=args.schema,
        out=args.out,
        id_field=args.id_field,
        clean=not args.no_clean,
        force=args.force,
        workers=args.workers,
        allow_partial=args.allow_partial,
        engine=args.engine,
    )
    c, paths = result["counts"], result["files"]
    if result.get("skipped"):
        out("validate is up to date (same items, schema and settings); --force runs it again")
    out(
        f"checked {c['lines']:,} line(s) in {result['seconds']:.1f} s: {c['valid']:,} valid, {c['invalid']:,} invalid"
        f" ({c['cleaned']:,} changed by cleaning, {c['markup_removed']:,} of them rid of HTML markup,"
        f" {c['redacted']:,} with personal data redacted)"
    )
    if result["top_failures"]:
        out("most common failures:")
        for what, n in result["top_failures"][:5]:
            out(f"  {n:>6}  {what}")
    out(f"valid:   {paths['valid']}")
    out(f"invalid: {paths['invalid']} (each with the rule and the reason)")
    out(f"next:    studio dedup {'--run ' + Path(result['run_dir']).name if 'run_dir' in result else paths['valid']}")
    return 0


def add_dedup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dedup",
        help="drop exact, near (MinHash) and semantic (embedding) duplicates (a run's, or any JSONL file)",
        description="Drop exact duplicates, near duplicates (MinHash LSH) and semantic duplicates (sentence "
        "embeddings), also of earlier accepted corpora. Each dropped record names its kept twin, the method "
        "and the similarity. With FILE: write unique.jsonl and duplicates.jsonl into --out. Without: the run's "
        "02-valid.jsonl into 03-unique.jsonl and 03-duplicates.jsonl.",
    )
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="a JSONL file (default: the run's valid items)")
    _gate_flags(p)
    p.add_argument(
        "--against",
        nargs="+",
        action="extend",
        type=Path,
        default=[],
        metavar="OTHER",
        help="earlier accepted corpora (JSONL files or run folders; after FILE, or repeat the flag): "
        "keep only what is new",
    )
    p.add_argument("--text-field", metavar="F", help="the key holding the text (default: quality.text_field, text)")
    p.add_argument("--keep", choices=["first", "longest", "best_score"], help="which record of a group is kept")
    p.add_argument("--no-semantic", action="store_true", help="skip the embedding pass (exact and MinHash only)")
    p.set_defaults(func=cmd_dedup)


def cmd_dedup(args: argparse.Namespace) -> int:
    result = pipeline.dedup(
        args.project,
        run=args.run,
        file=args.file,
        against=args.against,
        out=args.out,
        id_field=args.id_field,
        text_field=args.text_field,
        semantic=False if args.no_semantic else None,
        keep=args.keep,
        force=args.force,
        show_progress=True,
        allow_partial=args.allow_partial,
        engine=args.engine,
    )
    c, paths = result["counts"], result["files"]
    if result.get("skipped"):
        out("dedup is up to date (same items, corpora and settings); --force runs it again")
    m = c["by_method"]
    out(
        f"deduplicated {c['items']:,} item(s) in {result['seconds']:.1f} s: {c['unique']:,} unique, "
        f"{c['duplicates']:,} duplicates ({m['exact']:,} exact, {m['minhash']:,} near, {m['semantic']:,} semantic)"
    )
    if c["against"]["items"]:
        out(f"compared with {c['against']['items']:,} earlier record(s) in {', '.join(c['against']['files'])}")
    div = result["diversity"]
    spread = div["mean_pairwise_distance"]
    out(
        f"diversity: distinct-1 {div['distinct_1']}, distinct-2 {div['distinct_2']}"
        + (f", mean pairwise embedding distance {spread}" if spread is not None else "")
    )
    out(f"unique:     {paths['unique']}")
    out(f"duplicates: {paths['duplicates']} (each with its kept twin, the method and the similarity)")
    if "run_dir" in result:
        out(f"next:       studio judge --run {Path(result['run_dir']).name}")
    return 0


def add_judge(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "judge",
        help="on-topic and on-label checks, then an LLM judge's rubric scores (03-judged.jsonl)",
        description="Check the run's 03-unique.jsonl: each item's similarity to the domain (sentence embeddings; "
        "the threshold follows the run's own distribution) and, for a label axis, to its label; then the judge's "
        "endpoint scores each item on the rubric (the project's `judge` template) and items below judge.threshold "
        "are rejected. Writes 03-judged.jsonl and 03-judge-rejected.jsonl (each with its reason).",
    )
    _project_flags(p)
    p.add_argument("--force", action="store_true", help="run again even if nothing changed")
    p.add_argument("--allow-partial", action="store_true", help="go on from a dedup stage that did not finish")
    p.set_defaults(func=cmd_judge)


def cmd_judge(args: argparse.Namespace) -> int:
    r = pipeline.judge(args.project, args.run, args.force, args.allow_partial)
    if r.get("skipped"):
        out("judge is up to date (same items and settings); --force runs it again")
    c = r["counts"]
    rules = ", ".join(f"{c[k]:,} {k.replace('_', ' ')}" for k in ("off_topic", "off_label", "judge") if c.get(k))
    out(
        f"judged {c['in']:,} item(s): {c['kept']:,} kept, {c['rejected']:,} rejected" + (f" ({rules})" if rules else "")
    )
    llm = r.get("llm_judge")
    out(f"LLM judge: {llm if isinstance(llm, str) else llm.get('model')}")
    if topic := r.get("topic"):
        out(f"similarity to the domain: median {topic['median']:.2f}, threshold {topic['threshold']:.2f}")
    out(f"judged:   {r['files']['judged']}")
    out(f"rejected: {r['files']['judge_rejected']} (each with meta.rejected: rule and reason)")
    return stopped(args, r)


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="the whole loop: generate, validate, dedup, judge, review, curate, tune, eval, report",
        description="Run every stage in order: generate, validate and clean, dedup, judge, review, curate, "
        "tune, eval, export and report. A stage whose inputs and settings are unchanged is skipped, so "
        "a re-run after an edit or a crash does only what is needed.",
    )
    _project_flags(p)
    p.add_argument("--n", type=int, metavar="N", help="items to plan (overrides generate.n)")
    p.add_argument(
        "--target",
        type=int,
        metavar="N",
        help="items that must pass the quality gate: plan rounds until they do (overrides generate.target)",
    )
    p.add_argument(
        "--review",
        choices=["none", "push", "wait"],
        help="review mode (overrides review.mode): none: "
        "items go on unreviewed; push: a sample goes to Argilla and the run goes on; wait: the run waits "
        "for the reviewers",
    )
    p.add_argument(
        "--from",
        dest="from_stage",
        metavar="STAGE",
        help="run this stage and every later one even if "
        "unchanged (generate, validate, dedup, review, curate, tune, eval, export, report)",
    )
    _partial_flag(p)
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (none either when stderr is no terminal)"
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    result = pipeline.run(
        args.project,
        n=args.n,
        run=args.run,
        review=args.review,
        from_stage=args.from_stage,
        allow_partial=args.allow_partial,
        show_progress=progress(args),
        target=args.target,
    )
    run_dir = Path(result["run_dir"])
    out()
    out(f"done: {run_dir}")
    print_status(pipeline.status(run_dir))
    ev = result.get("eval") or {}
    ppl = ev.get("perplexity") or {}
    if ppl:
        out("held-out perplexity: " + ", ".join(f"{k} {v:,.2f}" for k, v in ppl.items() if v is not None))
    out(f"report:  {result['report']['path']}  (open it in a browser)")
    if (result.get("review") or {}).get("mode") == "push":
        out(
            "review:  open the Argilla dataset printed above (`studio review status` shows the sign-in), then "
            "`studio run` again: it pulls the reviewers' decisions and tunes on what they accepted"
        )
    out(f"dataset: {run_dir / FILES['dataset']}   model: {run_dir / FILES['model']}")
    tuned = (result.get("tune") or {}).get("fine_tuned_model")
    if tuned:
        out(f"next:    ask {tuned} through the API (model/README.md shows how)")
    else:
        out(f"next:    studio llm serve --model {run_dir}  (chat with the tuned model)")
    return 0


def add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="(re)build a run's report.html",
        description="Write report.html into a run "
        "folder from its manifest and files: the funnel, rejections, duplicates, diversity, cost, "
        "review, training and evaluation.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="a run name or a run folder (default: the default run)")
    p.add_argument("--project", default=DEFAULT_PROJECT, metavar="FILE", help="the domain project file")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    out(f"wrote {pipeline.build_report(args.project, args.run)}")
    return 0


def add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="the curated dataset to share: JSONL, Parquet, datasets folder, card",
        description="Write run/dataset/: data/<split>.parquet (for datasets.load_dataset and the Hub), "
        "data.parquet, hf/ (datasets save_to_disk), data.jsonl, openai_chat_<split>.jsonl and a dataset card "
        "README.md, with columns typed from the schema and provenance under `meta`; push to the Hub when "
        "share.hub_repo is set (token from share.hub_token_env).",
    )
    _project_flags(p)
    p.add_argument("--force", action="store_true", help="export (and push) again even if nothing changed")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    info = pipeline.export(args.project, args.run, force=args.force)
    if info.get("skipped"):
        out("export is up to date (same curated items and splits); --force exports again")
    splits = info["counts"]
    total = sum(splits.values())
    folder = Path(info["run_dir"]) / FILES["dataset"]
    out(f"exported {total:,} items ({', '.join(f'{k} {v}' for k, v in splits.items())}) to {folder}")
    return 0


def add_curate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "curate",
        help="05-curated.jsonl: the items accepted in review (or kept unreviewed)",
        description="Write 05-curated.jsonl from 04-reviewed.jsonl: every item whose review decision is accepted.",
    )
    _project_flags(p)
    p.add_argument("--force", action="store_true", help="run again even if nothing changed")
    p.set_defaults(func=cmd_curate)


def cmd_curate(args: argparse.Namespace) -> int:
    r = pipeline.curate(args.project, args.run, args.force)
    c = r["counts"]
    out(f"curated {c['curated']:,} of {c['reviewed']:,} reviewed item(s); {c['rejected']:,} rejected in review")
    out(f"items: {r['files']['curated']}")
    return 0


def add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="counts per stage of a run",
        description="Print the funnel of a run: how many items each stage holds, and what the manifest recorded.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="a run name or a run folder (default: the default run)")
    p.add_argument("--project", default=DEFAULT_PROJECT, metavar="FILE", help="the domain project file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    info = pipeline.status(_run_dir(args))
    if args.json:
        out(json.dumps(info, indent=2, default=str))
        return 0
    print_status(info)
    return 0


def _run_dir(args: argparse.Namespace) -> Path:
    if args.run and Path(args.run).is_dir():
        return Path(args.run)
    project = pipeline.open_project(args.project)
    return pipeline.open_run(project, args.run).dir


def print_status(info: dict[str, Any]) -> None:
    out(f"run {info['run']}")
    plan = info["stages"].get("generate", {}).get("counts", {}).get("planned")
    if plan is not None:
        out(f"  {'planned':<11}{plan:>7}")
    for key, n in info["files"].items():
        if n is not None:
            out(f"  {key:<11}{n:>7}   {FILES[key]}")
    for name, stage in info["stages"].items():
        state = "complete" if stage.get("complete", True) else f"stopped: {stage.get('stopped')}"
        out(f"  stage {name}: {state}, {stage.get('seconds', 0):.1f} s, recorded {stage.get('recorded_at', '?')}")


def add_tune(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tune",
        help="fine-tune a model on the run's curated items (splits, model, model card)",
        description="Split the run's 05-curated.jsonl (or --data FILE) into seeded train/validation/test "
        "splits and fine-tune the project's model with Hugging Face Trainer (train: in the project file; "
        "default: LoRA on the bundled SmolLM2-135M-Instruct, chat format). The best checkpoint by validation "
        "loss is kept; an interrupted run resumes when the same command runs again.",
    )
    _project_flags(p)
    p.add_argument("--data", type=Path, metavar="FILE", help="train on this records JSONL instead of 05-curated.jsonl")
    p.add_argument("--devices", type=int, metavar="N", help="train in N processes under torchrun (train.devices)")
    p.add_argument("--force", action="store_true", help="train again even if settings and data are unchanged")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none either when stderr is no terminal)"
    )
    _partial_flag(p)
    p.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
    r = pipeline.tune(
        args.project,
        run=args.run,
        data=args.data,
        force=args.force,
        show_progress=progress(args),
        allow_partial=args.allow_partial,
        devices=args.devices,
    )
    run_dir = Path(r["run_dir"])
    if not r["complete"]:
        return stopped(args, r)
    if r.get("skipped"):
        out("tune is up to date (same settings and data); --force trains again")
    elif r.get("backend") == "openai":
        out(f"tuned {r['base_model']} through the fine-tuning API into {r['fine_tuned_model']} (job {r['job']})")
    else:
        ppl = r["validation_perplexity"]
        out(
            f"tuned {r['task']} model ({r['method']}) in {r['seconds']:.0f} s: {r['steps']} step(s), "
            f"{r['train_tokens_per_s']:.0f} tokens/s"
            + (f"; validation perplexity {ppl['before']} -> {ppl['after']}" if ppl and ppl["after"] else "")
        )
    out(f"model:  {run_dir / FILES['model']} (model card: README.md in it)")
    out(f"splits: {run_dir / FILES['splits']}")
    local = r["task"] != "classification" and r.get("backend") != "openai"
    serve = f"; studio llm serve --model {run_dir.name}" if local else ""
    out(f"next:   studio eval --run {run_dir.name}{serve}")
    return 0


def add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="score the tuned model beside its base on the held-out test split (eval.json)",
        description="Held-out perplexity of the base model (zero-shot and few-shot) and the tuned model, "
        "overall and per axis value; their generations for the same prompts with BLEU, ROUGE-L and schema "
        "validity; accuracy, precision, recall, F1 and a confusion matrix for a classifier. Writes eval.json "
        "and adds the results to the model card.",
    )
    _project_flags(p)
    p.add_argument("--judge", action=argparse.BooleanOptionalAction, help="LLM-as-judge scores (train.eval.judge)")
    p.add_argument("--force", action="store_true", help="score again even if nothing changed")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    r = pipeline.evaluate(args.project, run=args.run, judge=args.judge, force=args.force)
    if r.get("skipped"):
        out("eval is up to date (same model, splits and settings); --force scores again")
    if r.get("verdict"):
        out(r["verdict"])
    scores = r.get("classification")
    if scores:
        t, b = scores["tuned"], scores["baseline"]
        ci = t.get("accuracy_ci95")
        interval = f" (95% interval {ci[0]}-{ci[1]} on {r['test_items']} items)" if ci else ""
        out(f"test accuracy {t['accuracy']}{interval} (majority class {b['accuracy']}), macro F1 {t['f1']}")
    for name, value in (r.get("generation") or {}).get("scores", {}).items():
        out(f"  {name:<14}" + ", ".join(f"{k} {v}" for k, v in value.items()))
    out(f"results: {Path(r['run_dir']) / FILES['eval']}")
    return 0


def add_init(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="scaffold a new domain project (project file, templates, schema)",
        description="Write studio.yaml, a prompt template per kind and a JSON Schema for a new "
        "domain into DIR, from its name and a one-paragraph description.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the project folder (created if missing)")
    p.add_argument("--name", help="folder-safe domain name (default: the folder's name)")
    p.add_argument("--title", help="how prompts name the domain (default: the name)")
    p.add_argument("--description", required=True, help="what is known about the domain, in a paragraph")
    p.add_argument(
        "--task",
        choices=TASKS,
        default="chat",
        help="what the data tunes: text, chat or seq2seq (passages of several kinds, question-answer pairs), or "
        "classification (a text and its label)",
    )
    p.add_argument(
        "--labels",
        type=lambda text: [x.strip() for x in text.split(",") if x.strip()],
        help="classification: the labels, comma-separated (default: read from 'one of: a, b, c' in the description)",
    )
    p.add_argument(
        "--propose",
        action="store_true",
        help="ask the endpoint (--base-url, --model) to propose the diversity axes and the item schema, and record "
        "it in studio.yaml; when its proposal is not usable, write the plain scaffold and say why",
    )
    p.add_argument("--base-url", metavar="URL", help="--propose: the OpenAI-compatible endpoint to ask")
    p.add_argument("--model", metavar="NAME", help="--propose: the model to ask")
    p.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="--propose: the environment variable holding the API key, if the endpoint needs one "
        "(default: %(default)s)",
    )
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    files = pipeline.init(
        args.dir,
        args.name,
        args.description,
        args.title,
        args.task,
        args.labels,
        propose=args.propose,
        base_url=args.base_url,
        model=args.model,
        api_key_env=args.api_key_env,
        say=lambda message: print(f"studio init: {message}", file=sys.stderr, flush=True),
    )
    out(f"wrote {len(files)} file(s) into {args.dir}:")
    for f in files:
        out(f"  {f}")
    out(f"next: edit the templates and the schema, then `studio generate --project {files[0]} --dry-run`")
    if args.task == "seq2seq":
        out("and before `studio tune`: set train.base_model to a T5-style model folder (studio bundles none)")
    return 0


def add_llm(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "llm",
        help="the local OpenAI-compatible LLM server (bundled model)",
        description="Start, stop or inspect the local llama.cpp server that serves the "
        "bundled SmolLM2-135M-Instruct on 127.0.0.1.",
    )
    llm_sub = p.add_subparsers(dest="llm_command", metavar="ACTION", required=True)
    add_llm_serve(llm_sub)
    llm_sub.add_parser("stop", help="stop the server").set_defaults(func=cmd_llm_stop)
    llm_sub.add_parser("status", help="is it running, where, with which model").set_defaults(func=cmd_llm_status)


def add_llm_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="start the server (or report the running one)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default 8765, or a free one)")
    p.add_argument("--gguf", type=Path, help="serve this GGUF file instead of the bundled model")
    p.add_argument("--alias", help="the model name clients use")
    p.add_argument(
        "--model", metavar="RUN", help="serve the model `studio tune` made in this run (a name or folder), as GGUF"
    )
    p.add_argument("--project", default=DEFAULT_PROJECT, metavar="FILE", help="the domain project file (with --model)")
    p.set_defaults(func=cmd_llm_serve)


def cmd_llm_serve(args: argparse.Namespace) -> int:
    from studio.serve import llm

    kwargs: dict[str, Any] = {"port": args.port, "gguf": args.gguf}
    if args.alias:
        kwargs["alias"] = args.alias
    if args.model:
        server, started = pipeline.serve_model(args.project, args.model, port=args.port)
    else:
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


def add_review(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="human review in Argilla: run it locally, push a sample, pull the decisions",
        description="Review a run's items in Argilla. `serve` runs a local Argilla (no Docker); `push` sends "
        "a sample of 03-judged.jsonl to the run's dataset; `pull` brings the answers back into 04-reviewed.jsonl. "
        "With review.api_url in the project file, push and pull use that Argilla instead.",
    )
    review_sub = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    add_review_serve(review_sub)
    review_sub.add_parser("stop", help="stop the local Argilla").set_defaults(func=cmd_review_stop)
    review_sub.add_parser("status", help="is the local Argilla running, where").set_defaults(func=cmd_review_status)
    review_sub.add_parser(
        "install", help="create argilla-server's own virtual environment now (serve does it on first use)"
    ).set_defaults(func=cmd_review_install)
    add_review_push(review_sub)
    add_review_pull(review_sub)


def add_review_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="start the local Argilla (or report the running one)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default 6900, or a free one)")
    p.set_defaults(func=cmd_review_serve)


def cmd_review_serve(args: argparse.Namespace) -> int:
    stack, started = pipeline.review_serve(port=args.port)
    out("started" if started else "already running")
    _say_review_stack(stack)
    out("next:    studio review push   (then open the URL and review)")
    return 0


def _say_review_stack(stack: Any) -> None:
    out(f"Argilla: {stack.url} (user {stack.username}; password and API key in {stack.credentials_file})")
    out(f"logs:    {stack.log_dir}")


def cmd_review_stop(args: argparse.Namespace) -> int:
    out("stopped" if pipeline.review_stop() else "not running")
    return 0


def cmd_review_status(args: argparse.Namespace) -> int:
    stack = pipeline.review_status()
    if stack is None:
        out("not running (start it with `studio review serve`)")
        return 1
    out(f"running since {time.strftime('%Y-%m-%d %H:%M', time.localtime(stack.started_at))}")
    _say_review_stack(stack)
    return 0


def cmd_review_install(args: argparse.Namespace) -> int:
    out(f"argilla-server venv: {pipeline.review_install()}")
    return 0


def add_review_push(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "push",
        help="push a sample of the run's judged items for review",
        description="Send a sample of 03-judged.jsonl (stratified by axes, borderline items first) to the "
        "run's Argilla dataset. Pushing again updates the same records; it never adds copies.",
    )
    _project_flags(p)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, metavar="N", help="items to review (overrides review.size; default 100)")
    size.add_argument("--fraction", type=float, metavar="F", help="share of the judged items to review (0-1)")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none either when stderr is no terminal)"
    )
    p.add_argument("--force", action="store_true", help="push again even if the sample and items are unchanged")
    p.set_defaults(func=cmd_review_push)


def cmd_review_push(args: argparse.Namespace) -> int:
    result = pipeline.review_push(
        args.project,
        run=args.run,
        size=args.size,
        fraction=args.fraction,
        force=args.force,
        show_progress=progress(args),
    )
    if result.get("skipped"):
        out("push is up to date (same items and sample settings); --force pushes again")
    c, d = result["counts"], result["dataset"]
    out(
        f"pushed {c['sampled']} of {c['judged']} judged item(s) ({c['borderline']} borderline"
        + (f", {c['judge_rejected']} the judge rejected" if c["judge_rejected"] else "")
        + ") "
        f"in {result['seconds']:.1f} s: {c['created']} new, {c['updated']} updated; "
        f"the dataset holds {c['in_dataset']}"
    )
    out(f"review:  {d['url']}")
    out("next:    studio review pull [--wait]   (after the reviewers have answered)")
    return 0


def add_review_pull(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pull",
        help="pull the reviewers' decisions into 04-reviewed.jsonl",
        description="Read the submitted and discarded answers, resolve several reviewers per record, apply "
        "corrections (validated against the schema) and decide every judged item, reviewed or not.",
    )
    _project_flags(p)
    p.add_argument("--wait", action="store_true", help="first wait until a share of the sample is reviewed")
    p.add_argument(
        "--target", type=float, metavar="SHARE", help="share that ends the wait (default: review.wait_target)"
    )
    p.add_argument("--timeout", type=float, metavar="S", help="longest wait, seconds (default: review.wait_timeout_s)")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none either when stderr is no terminal)"
    )
    p.set_defaults(func=cmd_review_pull)


def cmd_review_pull(args: argparse.Namespace) -> int:
    result = pipeline.review_pull(
        args.project,
        run=args.run,
        wait=args.wait,
        target=args.target,
        timeout=args.timeout,
        show_progress=progress(args),
    )
    c = result["counts"]
    waited = result["wait"]
    if waited and not waited["reached"]:
        out(f"stopped waiting after {waited['seconds']:.0f} s: {waited['reviewed']} of {waited['total']} reviewed")
    rate = result["acceptance_rate"]
    out(
        f"{c['reviewed']} of {c['pushed']} pushed item(s) reviewed"
        + (f" (acceptance {rate:.0%})" if rate is not None else "")
        + f"; {c['unreviewed']} unreviewed item(s) follow review.unreviewed"
    )
    out(f"accepted {c['accepted']}, rejected {c['rejected']} of {c['judged']}; {c['corrected']} corrected")
    if c["ties"]:
        out(f"ties: {c['ties']} (decided by review.tie): {', '.join(result['ties'][:10])}")
    for bad in result["invalid_corrections"][:10]:
        out(f"invalid correction, not used: {bad['id']}: {bad['error']}")
    d = result["agreement"]["decision"]
    if d["records"]:
        alpha = "n/a" if d["alpha"] is None else f"{d['alpha']:.2f}"
        out(f"agreement on the decision over {d['records']} record(s): {d['pairwise']:.0%} of pairs, alpha {alpha}")
    out(f"items:   {Path(result['run_dir']) / FILES['reviewed']} (each with meta.review: decision and reason)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StudioError as e:
        print(f"studio: error: {e}", file=sys.stderr)
        return 2
    except RunStopped as e:
        print(f"studio: {e}; then run `{e.command or same_command(args)}` to go on", file=sys.stderr)
        return engine.STOPPED_EXIT
    except KeyboardInterrupt:
        print("studio: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
